"""Where a plan lands: local files by default, COS and CLS when configured."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Protocol

from cssai.writes import CopyObject, LogRecord, PutObject


class SinkError(Exception):
    """A write failed; ``transient`` says whether trying again may help.

    ``refused``: the service read the request and will never accept it (bad data, a closed topic):
    the records are kept as a dead letter instead, so one bad record cannot lose the event.
    """

    def __init__(self, message: str, *, transient: bool, refused: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
        self.refused = refused


class ObjectSink(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def put(self, obj: PutObject, event_id: str, *, if_absent: bool) -> bool:
        """Store ``obj``; with ``if_absent``, return False (writing nothing) when the key exists."""
        ...

    def copy(self, copy: CopyObject, event_id: str) -> None: ...

    def delete(self, key: str) -> None:
        """Remove ``key`` (absent already: nothing to do). Only the outbox and the jobs' leases delete."""
        ...

    def list(self, prefix: str) -> Iterator[str]:
        """Keys under ``prefix`` (for replay), in key order."""
        ...


class LogSink(Protocol):
    def batches(self, records: Iterable[LogRecord]) -> Iterator[Sequence[LogRecord]]:
        """Consecutive uploads within the service's per-request limits, made as they are consumed."""
        ...

    def upload(self, records: Sequence[LogRecord], common: Mapping[str, str], *, again: bool = False) -> None:
        """Upload one batch; ``common`` fields are added to every record.

        ``again``: a forced replay, which uploads the records anew even where a sink could tell that the
        same batch already landed (the local sink can; CLS cannot).
        """
        ...
