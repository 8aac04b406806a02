"""What every handler shares: the pure context it is given and the model base."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

INT64 = 2**63 - 1


@dataclass(frozen=True)
class HandlerContext:
    """Everything a handler may know besides the body: no clock, no env, no I/O."""

    event_id: str
    thresholds: Mapping[str, float] = field(default_factory=dict)
    media_hosts: frozenset[str] = frozenset()

    @property
    def short_id(self) -> str:
        return self.event_id[:16]


class Callback(BaseModel):
    """Fields every callback has; unknown fields are kept, not refused."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False, populate_by_name=True)

    event_type: int
    appid: int | None = None
    stream_id: str = Field(min_length=1)
    t: int | None = None
    sign: str | None = None


def TimeField(**kwargs: object) -> int:  # noqa: N802 - reads like a type at the call site
    """An int64 unix time, never negative."""
    return Field(ge=0, le=INT64, **kwargs)  # type: ignore[return-value]
