"""The outbox: one pending entry per (target, event), made before CSS is answered.

``outbox/{target}/{event_id}.json`` names the archived event, the target URL, the attempts, the next due
time and the last error (never the body again: the archive has it). Delivered: the entry is removed.
Past ``FORWARD_MAX_AGE_SECONDS`` undelivered: moved to ``outbox-dead/{target}/{event_id}.json``.
Entries are written only by the delivery that holds the event's claim and stores it for the first time
(the executor writes ``Plan.outbox`` after taking the claim, never on a duplicate), so a redelivery never
re-creates an entry that was delivered and removed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any

from cssai.jobs.rules import Rule
from cssai.writes import PutObject, json_object

PENDING, DEAD = "outbox/", "outbox-dead/"
MAX_ERROR = 300


def pending_key(target: str, event_id: str) -> str:
    return f"{PENDING}{target}/{event_id}.json"


def dead_key(target: str, event_id: str) -> str:
    return f"{DEAD}{target}/{event_id}.json"


@dataclass(frozen=True)
class Entry:
    event_id: str
    event_type: Any
    archive: str
    url: str
    target: str
    stored: float  # when the event was stored: the age that FORWARD_MAX_AGE_SECONDS limits
    due: float
    attempts: int = 0
    last_error: str = ""
    last_status: int | None = None
    died: float | None = None

    @property
    def key(self) -> str:
        return pending_key(self.target, self.event_id)

    def put(self) -> PutObject:
        return json_object(self.key, asdict(self))

    def failed(self, error: str, status: int | None, now: float, base: int, cap: int) -> Entry:
        """After a failed attempt: due ``base`` after it, then twice that... (capped)."""
        attempts = self.attempts + 1
        wait = min(cap, base * 2 ** min(attempts - 1, 30))
        return replace(self, attempts=attempts, due=now + wait, last_error=error[:MAX_ERROR], last_status=status)

    @staticmethod
    def read(raw: bytes | None) -> Entry | None:
        if raw is None:
            return None
        try:
            doc = json.loads(raw)
            return Entry(**{name: doc[name] for name in Entry.__dataclass_fields__ if name in doc})
        except (ValueError, TypeError, KeyError):
            return None


def entries_for(rules: list[Rule], event_id: str, event_type: Any, archive: str, now: float) -> list[Entry]:
    """One entry per matching target, due now (the inline attempt is the first)."""
    return [Entry(event_id, event_type, archive, rule.url, rule.target, stored=now, due=now) for rule in rules]
