"""What every handler shares: the pure context it is given and the model base."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar, get_args

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from cssai import keys
from cssai.body import BodyError, check_depth, finite_or_text
from cssai.identity import day
from cssai.writes import PutObject, json_object

INT64 = 2**63 - 1


@dataclass(frozen=True)
class HandlerContext:
    """Everything a handler may know besides the body: no clock, no env, no I/O."""

    event_id: str
    thresholds: Mapping[str, float] = field(default_factory=dict)
    media_hosts: frozenset[str] = frozenset()
    seconds: int | None = None  # the event's own time, read once by the pipeline (identity.event_seconds)

    @property
    def short_id(self) -> str:
        return self.event_id[:16]

    @property
    def date(self) -> str:
        """The folder date of every object of this event: the archive's, so replay --date finds them all."""
        return day(self.seconds)


# Tolerant of what real traffic sends: unknown fields kept; a number where text is expected (a numeric
# sequence, task or file id) taken as its text; numbers sent as strings read by pydantic's lax mode.
LOOSE = ConfigDict(extra="allow", allow_inf_nan=False, populate_by_name=True, coerce_numbers_to_str=True)
UNSIGNED = ("t", "sign")


class Tolerant(BaseModel):
    """The base of every model: a JSON ``null`` means absent (DESIGN.md, "Tolerant reading").

    Services written in Go send a nil slice or map as ``null``. A member that is ``null`` where the model
    has a default takes the default; a required member is declared ``X | None``, so ``null`` is stored as
    "not sent" rather than refused. An undocumented member that is ``null`` is kept as sent.
    """

    model_config = LOOSE

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: object) -> object:
        if isinstance(data, dict) and None in data.values():
            defaulted = _defaulted_names(cls)
            return {k: v for k, v in data.items() if v is not None or k not in defaulted}
        return data


@cache
def _defaulted_names(model: type[BaseModel]) -> frozenset[str]:
    """The names (and aliases) of a model's fields that have a default."""
    names: set[str] = set()
    for name, info in model.model_fields.items():
        if info.is_required():
            continue
        names.add(name)
        alias = info.validation_alias
        if isinstance(alias, str):
            names.add(alias)
        elif isinstance(alias, AliasChoices):
            names.update(a for a in alias.choices if isinstance(a, str))
    return frozenset(names)


class Envelope(Tolerant):
    """What every callback may carry besides its family's fields."""

    event_type: int
    appid: int | None = Field(default=None, validation_alias=AliasChoices("appid", "appId"))
    t: int | None = None
    sign: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: object, info: ValidationInfo) -> object:
        """``""`` where a number is expected (a time, a size, a code) means absent, as real traffic sends it."""
        if isinstance(value, str) and not value.strip() and info.field_name in cls.model_fields:
            annotation = cls.model_fields[info.field_name].annotation
            if annotation is not str and str not in get_args(annotation):
                return None
        return value

    def extras(self) -> dict[str, Any]:
        """Fields the docs do not list, kept as sent (the signature fields left out)."""
        return {k: v for k, v in (self.model_extra or {}).items() if k not in UNSIGNED}


class Callback(Envelope):
    """A callback about one stream: ``stream_id`` is required; ``null`` is taken as "not sent" (filed under ``%``)."""

    stream_id: str | None = Field(min_length=1)


def embedded_json(value: object) -> object:
    """A field that holds JSON inside a string (``callback_ext``, ``record_detail``, ``msg``, ``source_urls``):
    the parsed value, or the string as sent when it does not parse.

    A string escaped once too often (``{\\"a\\":1}``, as the 332 doc sample renders) is read after one unescape.
    """
    if not isinstance(value, str):
        return value
    for text in (value, value.replace('\\"', '"')):
        try:
            parsed = json.loads(text, parse_constant=_no_constant, parse_float=finite_or_text)
            check_depth(parsed)  # as deep as the body may be, and no deeper
        except (ValueError, RecursionError, BodyError):
            continue
        return parsed
    return value


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def identified(model: Envelope, ctx: HandlerContext, stream_id: str | None, /, **fields: Any) -> dict[str, Any]:
    """An event's object: its identity, the family's fields, and its undocumented fields as sent under
    ``extras``, where no name a body chooses can shadow one of the receiver's."""
    return with_extras({"event_id": ctx.event_id, "event_type": model.event_type, "stream_id": stream_id, **fields},
                       model.extras())


def with_extras(doc: dict[str, Any], extras: dict[str, Any]) -> dict[str, Any]:
    if extras:
        doc["extras"] = extras
    return doc


def filed(folder: str, stream_id: str, ctx: HandlerContext, name: str, doc: Any) -> PutObject:
    """``{folder}/{stream}/{date}/{name}``: where a family files one object of an event."""
    return json_object(keys.join(folder, keys.segment(stream_id), ctx.date, name), doc)


def members(body: dict, name: str) -> object:
    """A list member of the body, kept as sent (validated apart, in chunks); absent or ``null``: empty."""
    value = body.get(name)
    return [] if value is None else value


def as_list(value: object) -> object:
    """A list field sent as one string (``"a,b"``) read as its comma-separated parts; anything else as sent."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def seconds_ms(seconds: int | None) -> int:
    """A record time from unix seconds (0 when the event has none; writes.record clamps the rest)."""
    return 0 if seconds is None else seconds * 1000


def TimeField(**kwargs: object) -> int:  # noqa: N802 - reads like a type at the call site
    """An int64 unix time, never negative."""
    return Field(ge=0, le=INT64, **kwargs)  # type: ignore[return-value]


CHUNK = 10_000
T = TypeVar("T")


def validated_chunks(adapter: TypeAdapter[list[T]], raw: object, where: tuple[str, ...],
                     title: str, chunk: int = CHUNK) -> Iterator[list[T]]:
    """A long list validated ``chunk`` items at a time, so that no full validated copy is ever held.

    Errors keep their place in the body (``frames.12345.score``), as one model's would.
    """
    if raw is None:  # a null list is an absent one
        return
    if not isinstance(raw, list):
        try:
            adapter.validate_python(raw)
        except ValidationError as exc:
            raise _moved(exc, where, 0, title) from None
        return
    for start in range(0, len(raw), chunk):
        part = raw[start:start + chunk]
        if None in part:  # a null entry is an absent one (tolerant reading)
            part = [entry for entry in part if entry is not None]
        try:
            yield adapter.validate_python(part)
        except ValidationError as exc:
            raise _moved(exc, where, start, title) from None


def _moved(exc: ValidationError, where: tuple[str, ...], offset: int, title: str) -> ValidationError:
    details: list[InitErrorDetails] = []
    for err in exc.errors(include_url=False):
        loc: list[Any] = list(err["loc"])
        if loc and isinstance(loc[0], int):
            loc[0] += offset
        details.append({"type": err["type"], "loc": (*where, *loc), "input": err["input"], "ctx": err.get("ctx", {})})
    return ValidationError.from_exception_data(title, details)
