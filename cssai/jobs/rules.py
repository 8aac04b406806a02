"""``FORWARD_RULES``: which stored events go to which of the operator's URLs.

Whitespace-separated ``TYPES=URL`` entries (the first ``=`` splits); ``TYPES`` is ``*`` or comma-separated
event types. Every rule whose types match an event gets one forward (fan-out); two rules naming the same
URL are one target. A target is named by the first 16 hex digits of sha256 of its URL exactly as written,
query included, so that the URL's secrets (a token in its query) never appear in keys, records or logs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import parse_qsl, urlsplit, urlunsplit

ALL = "*"
UNDEFINED = "the string 'undefined': a ${env:X} inside FORWARD_RULES was not set when serverless.yml was deployed"


@dataclass(frozen=True)
class Rule:
    types: frozenset[int] | None  # None: every event type, those the receiver does not know included
    url: str

    @cached_property
    def target(self) -> str:
        return target_of(self.url)

    def matches(self, event_type: object) -> bool:
        if self.types is None:
            return True
        return isinstance(event_type, int) and not isinstance(event_type, bool) and event_type in self.types


def target_of(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def parse(value: str) -> list[Rule]:
    """The rules, or ValueError saying which entry is wrong and why (the URL's query masked)."""
    rules: list[Rule] = []
    for position, entry in enumerate(value.split(), start=1):
        types_text, sep, url = entry.partition("=")
        where = f"entry {position} ({types_text}{sep}{mask(url) if sep else mask(entry)})"
        if not sep or not types_text or not url:
            raise ValueError(f"{where}: expected TYPES=URL, e.g. 1,0=https://rooms.example.com/css or *=https://…")
        if "undefined" in (types_text, url):
            raise ValueError(f"{where}: {UNDEFINED}")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{where}: the URL must be http:// or https:// with a host")
        rules.append(Rule(_types(types_text, where), url))
    return rules


def _types(text: str, where: str) -> frozenset[int] | None:
    if text == ALL:
        return None
    found: set[int] = set()
    for part in text.split(","):
        if not part.isdigit():
            raise ValueError(f"{where}: TYPES is * or event types separated by commas (got {part!r})")
        found.add(int(part))
    return frozenset(found)


def for_event(rules: tuple[Rule, ...] | list[Rule], event_type: object) -> list[Rule]:
    """The rules matching an event type, one per target."""
    chosen: dict[str, Rule] = {}
    for rule in rules:
        if rule.matches(event_type):
            chosen.setdefault(rule.target, rule)
    return list(chosen.values())


def mask(url: str) -> str:
    """The URL with every query value and any user:password replaced by ``***``: safe to print and log."""
    parts = urlsplit(url)
    if not parts.query and "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    netloc = f"***@{host}" if "@" in parts.netloc else host
    names = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    query = "&".join(f"{name}=***" for name in names) if names else ("***" if parts.query else "")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
