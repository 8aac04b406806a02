"""Where a plan lands: local files by default, COS and CLS when configured."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from cssai.writes import CopyObject, LogRecord, PutObject


class SinkError(Exception):
    """A write failed; ``transient`` says whether trying again may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class ObjectSink(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def put(self, obj: PutObject, event_id: str, *, if_absent: bool) -> bool:
        """Store ``obj``; with ``if_absent``, return False (writing nothing) when the key exists."""
        ...

    def copy(self, copy: CopyObject, event_id: str) -> None: ...

    def list(self, prefix: str) -> Iterator[str]:
        """Keys under ``prefix`` (for replay), in key order."""
        ...


class LogSink(Protocol):
    def batches(self, records: Sequence[LogRecord]) -> list[Sequence[LogRecord]]: ...

    def upload(self, records: Sequence[LogRecord]) -> None: ...
