"""Settings from the environment, checked once per container.

A bad value fails at start with the variable's name, instead of failing
one callback at a time. A plain pydantic model read from ``os.environ`` (names case-insensitive, an
empty value meaning unset): pydantic-settings did the same but cost a cold start about 75 ms at a full
core (it imports asyncio and its cloud sources), about 5 times that at SCF's 0.2 of a core.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_THRESHOLDS = "PSNR=30,SSIM=0.9,VMAF=70"
SCF_MAX_SYNC_BODY = 6 * 1024 * 1024
MIN_TOKEN_LENGTH = 16
_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]+")


UNDEFINED = ("is the string 'undefined': a ${env:X} reference inside it was not set when serverless.yml was "
             "deployed; set it and deploy again")
NOTIFY_KINDS = ("quality_alert", "keyword_hit", "highlight", "moderation", "quality_control", "push_error",
                "recording_error", "forward_failed", "delivery_gap")
FORWARD_SIGNINGS = ("css", "standard")
MAX_RETRY_SECONDS = 3600
LIST_SETTINGS = ("css_callback_keys", "callback_url_tokens", "callback_allowed_cidrs", "media_copy_source_hosts",
                 "notify_kinds", "quality_alert_thresholds")


class SettingsError(Exception):
    """A setting is missing or malformed; the message and ``variable`` name it."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    css_callback_keys: str = ""
    callback_url_tokens: str = ""
    local_sink_dir: Path = Path("./out")
    cos_bucket: str = ""
    cos_region: str = ""
    cos_prefix: str = ""
    cos_endpoint_url: str = ""
    cls_topic_id: str = ""
    cls_region: str = ""
    cls_endpoint_url: str = ""
    quality_alert_thresholds: str = DEFAULT_THRESHOLDS
    # A passed t still accepted (seconds): CSS's last retries (12, a minute apart, each answered within
    # DEADLINE_SECONDS) come up to ~5 minutes after t = event time + 600 s. 0 refuses them (README, threat model).
    callback_t_grace_seconds: int = Field(300, ge=0, le=900)
    deadline_seconds: float = Field(15.0, ge=1, le=19)  # CSS waits about 20 s
    request_timeout_seconds: float = Field(3.0, gt=0, le=19)
    write_attempts: int = Field(3, ge=1, le=10)
    max_body_bytes: int = Field(SCF_MAX_SYNC_BODY, ge=1024, le=SCF_MAX_SYNC_BODY)
    media_copy: bool = False
    media_copy_source_hosts: str = ""
    callback_allowed_cidrs: str = ""
    log_level: str = "INFO"
    notify_url: str = ""
    notify_format: str = "json"
    notify_kinds: str = ",".join(NOTIFY_KINDS)
    notify_window_seconds: int = Field(600, ge=0, le=86_400)  # 0: post every alert
    notify_timeout_seconds: float = Field(2.0, gt=0, le=19)
    notify_dingtalk_secret: str = ""
    # Forwarding to the operator's own systems (docs/forwarding.md)
    forward_rules: str = ""
    forward_signing: str = "css"
    forward_secret: str = ""
    forward_timeout_seconds: float = Field(3.0, gt=0, le=19)
    forward_retry_base_seconds: int = Field(60, ge=1, le=MAX_RETRY_SECONDS)
    forward_max_age_seconds: int = Field(86_400, ge=60, le=30 * 86_400)
    # Reconciling with CSS's own records (docs/reconciliation.md)
    reconcile_every_seconds: int = Field(600, ge=0, le=86_400)  # paces the timer only; 0: off
    reconcile_lookback_seconds: int = Field(7_200, ge=120, le=14 * 86_400)  # callback records: 14 days kept
    reconcile_max_calls: int = Field(500, ge=10, le=100_000)  # a timer run's live API calls (~25 s at 20/s)
    live_endpoint_url: str = ""
    function_url: str = ""

    @field_validator("*", mode="before")
    @classmethod
    def _not_undefined(cls, value: object) -> object:
        """serverless.yml's ``${env:A},${env:B}`` deploys the string "undefined" where B was not set.

        Refused for every setting, and for every entry of a comma-separated one: as a callback key,
        "undefined" would let anyone sign.
        """
        if isinstance(value, str) and value.strip() == "undefined":
            raise ValueError(UNDEFINED)
        return value

    @field_validator(*LIST_SETTINGS, mode="before")
    @classmethod
    def _entries(cls, value: object) -> object:
        """Every entry of a list setting is checked as a whole value is: no "undefined", no empty entry."""
        if isinstance(value, str) and value.strip():
            for position, entry in enumerate(value.split(","), start=1):
                if not entry.strip():
                    raise ValueError(f"entry {position} is empty (a stray comma, or a variable that was not set "
                                     "when the list was composed)")
                if entry.strip() == "undefined":
                    raise ValueError(f"entry {position} {UNDEFINED}")
        return value

    @field_validator("callback_url_tokens")
    @classmethod
    def _tokens(cls, value: str) -> str:
        for token in _split(value):
            if len(token) < MIN_TOKEN_LENGTH or not _URL_SAFE.fullmatch(token):
                raise ValueError(f"each token needs at least {MIN_TOKEN_LENGTH} characters from [A-Za-z0-9._~-] "
                                 "(URL-safe, hard to guess)")
        return value

    @field_validator("quality_alert_thresholds")
    @classmethod
    def _thresholds(cls, value: str) -> str:
        _parse_thresholds(value)
        return value

    @field_validator("forward_rules")
    @classmethod
    def _forward_rules(cls, value: str) -> str:
        from cssai.jobs.rules import parse  # the rules' own module; imported only when rules are set

        if value.strip():
            parse(value)
        return value

    @field_validator("forward_signing")
    @classmethod
    def _forward_signing(cls, value: str) -> str:
        if value.strip().lower() not in FORWARD_SIGNINGS:
            raise ValueError(f"must be {' or '.join(FORWARD_SIGNINGS)}")
        return value.strip().lower()

    @field_validator("cos_endpoint_url", "cls_endpoint_url", "live_endpoint_url", "function_url")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("must look like http://host:port or https://host")
        return value

    @field_validator("cos_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if ".." in value.split("/") or value.startswith("/"):
            raise ValueError("must be a relative prefix without '..'")
        return value

    @field_validator("callback_allowed_cidrs")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        for cidr in _split(value):
            ipaddress.ip_network(cidr, strict=False)
        return value

    @field_validator("notify_url")
    @classmethod
    def _notify_url(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("notify_format")
    @classmethod
    def _notify_format(cls, value: str) -> str:
        if value.lower() not in ("wecom", "dingtalk", "json"):
            raise ValueError("must be wecom, dingtalk or json")
        return value.lower()

    @field_validator("notify_kinds")
    @classmethod
    def _notify_kinds(cls, value: str) -> str:
        unknown = set(_split(value)) - set(NOTIFY_KINDS)
        if unknown:
            raise ValueError(f"unknown kinds {sorted(unknown)}; use {', '.join(NOTIFY_KINDS)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @model_validator(mode="after")
    def _targets(self) -> Settings:
        if self.cos_bucket and not self.cos_region:
            raise ValueError("COS_REGION is required with COS_BUCKET")
        if self.cls_topic_id and not self.cls_region:
            raise ValueError("CLS_REGION is required with CLS_TOPIC_ID")
        if self.media_copy and not (self.cos_bucket and self.media_copy_source_hosts):
            raise ValueError("MEDIA_COPY needs COS_BUCKET and MEDIA_COPY_SOURCE_HOSTS")
        if self.forward_rules.strip() and self.forward_signing == "standard":
            from cssai.jobs.signing import secret_bytes

            secret_bytes(self.forward_secret)  # FORWARD_SECRET ...: raised with the variable's name first
        return self

    @cached_property
    def callback_keys(self) -> tuple[str, ...]:
        return tuple(_split(self.css_callback_keys))

    @cached_property
    def url_tokens(self) -> tuple[str, ...]:
        return tuple(_split(self.callback_url_tokens))

    @cached_property
    def thresholds(self) -> dict[str, float]:
        return _parse_thresholds(self.quality_alert_thresholds)

    @cached_property
    def media_hosts(self) -> frozenset[str]:
        return frozenset(h.lower() for h in _split(self.media_copy_source_hosts))

    @cached_property
    def notify_kind_set(self) -> frozenset[str]:
        return frozenset(_split(self.notify_kinds))

    @cached_property
    def forward_targets(self) -> tuple[Any, ...]:
        """The parsed ``FORWARD_RULES`` (``cssai.jobs.rules.Rule``), empty when unset."""
        if not self.forward_rules.strip():
            return ()
        from cssai.jobs.rules import parse

        return tuple(parse(self.forward_rules))

    @cached_property
    def allowed_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(c, strict=False) for c in _split(self.callback_allowed_cidrs))


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _parse_thresholds(value: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for pair in _split(value):
        name, sep, number = pair.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            out[name.strip().upper()] = float(number)
        except ValueError:
            raise ValueError(f"expected CLASS=number pairs, got {pair!r}") from None
    return out


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings' variables that are set: names matched case-insensitively, an empty value meaning unset."""
    source = os.environ if environ is None else environ
    by_name = {name.lower(): value for name, value in source.items()}
    return {field: by_name[field] for field in Settings.model_fields if by_name.get(field, "") != ""}


def load() -> Settings:
    """Read the environment; raise SettingsError naming the variable at fault."""
    try:
        return Settings.model_validate(from_environment())
    except ValidationError as exc:
        first = exc.errors()[0]
        names = [str(p).upper() for p in first.get("loc", ()) if p != "__root__"]
        message = first.get("msg", "invalid").removeprefix("Value error, ")
        if not names:  # a rule across settings: its message starts with the variable it asks for
            head, _, rest = message.partition(" ")
            names, message = ([head], rest) if head.isupper() else (["settings"], message)
        raise SettingsError(names[0], message) from None
