"""The embedded default: objects as files under ``cos/``, records as JSON lines under ``cls/``."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from cssai import text
from cssai.sinks import SinkError
from cssai.writes import CopyObject, LogRecord, PutObject

RECORDS_FILE = "records.jsonl"
BATCH = 10_000  # as CLS: a huge event never holds all its lines in memory at once


class LocalObjects:
    """Mirrors the COS layout on disk; refuses any key that would leave its folder."""

    concurrent = False

    def __init__(self, root: Path) -> None:
        self.root = (root / "cos").resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not key or key.startswith("/") or not path.is_relative_to(self.root) or path == self.root:
            raise SinkError(f"refusing a key outside the sink: {key!r}", transient=False)
        return path

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, obj: PutObject, event_id: str, *, if_absent: bool) -> bool:
        path = self._path(obj.key)
        if if_absent and path.exists():
            return False
        created = True
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(obj.body)
                if if_absent:
                    try:
                        os.link(tmp, path)  # atomic create-if-absent, never a half-written file
                    except FileExistsError:
                        created = False
                else:
                    os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError as exc:
            raise SinkError(f"local write failed for {obj.key}: {exc.strerror}", transient=True) from exc
        return created

    def copy(self, copy: CopyObject, event_id: str) -> None:
        raise SinkError("media copy needs the COS sink (COS_BUCKET)", transient=False)

    def list(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(".tmp-"):
                yield path.relative_to(self.root).as_posix()


class LocalLogs:
    """Appends one JSON line per record; one write per upload so lines never interleave."""

    concurrent = False

    _lock = threading.Lock()

    def __init__(self, root: Path) -> None:
        self.path = root / "cls" / RECORDS_FILE

    def batches(self, records: Iterable[LogRecord]) -> Iterator[Sequence[LogRecord]]:
        batch: list[LogRecord] = []
        for rec in records:
            batch.append(rec)
            if len(batch) == BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def upload(self, records: Sequence[LogRecord], common: Mapping[str, str]) -> None:
        lines = "".join(
            json.dumps({"time_ms": r.time_ms, **r.fields, **common}, ensure_ascii=False) + "\n" for r in records
        )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, open(self.path, "a", encoding="utf-8") as handle:
                handle.write(text.clean(lines))
        except OSError as exc:
            raise SinkError(f"local log append failed: {exc.strerror}", transient=True) from exc
