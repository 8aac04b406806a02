"""The embedded default: objects as files under ``cos/``, records as JSON lines under ``cls/``."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from cssai import text

try:
    import fcntl
except ImportError:  # not on Windows: threads are still serialised by the lock
    fcntl = None  # type: ignore[assignment]
from cssai.sinks import SinkError
from cssai.writes import CopyObject, LogRecord, PutObject

RECORDS_FILE = "records.jsonl"
BATCH = 10_000  # as CLS: a huge event never holds all its lines in memory at once
TAIL_CHUNK = 64 * 1024


# A folder that cannot be written stays so for the rest of the deadline: fail at the first write, saying why.
_PERMANENT = frozenset({errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG,
                        errno.EEXIST, errno.ELOOP, errno.ENOENT})


def failure(what: str, exc: OSError) -> SinkError:
    """A SinkError naming the file and the OS's reason; transient only where a retry may help (a full disk)."""
    return SinkError(f"{what} failed: {exc.strerror or exc}", transient=exc.errno not in _PERMANENT)


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
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise failure(f"local read of {self.root / key}", exc) from exc

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
            raise failure(f"local write of {path}", exc) from exc
        return created

    def copy(self, copy: CopyObject, event_id: str) -> None:
        raise SinkError("media copy needs the COS sink (COS_BUCKET)", transient=False)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise failure(f"local delete of {path}", exc) from exc

    def list(self, prefix: str) -> Iterator[str]:
        base = self.root / prefix
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(".tmp-"):
                yield path.relative_to(self.root).as_posix()


class LocalLogs:
    """Appends one JSON line per record, crash-safe like the cloud sink.

    - **No torn lines.** A batch is one ``os.write`` loop on an ``O_APPEND`` file; if it fails (a full
      disk) the file is cut back to where the batch began. A line left without its newline by a process
      killed mid-write is cut off before the next append, so no later line is ever joined onto it.
    - **Exactly once.** Before appending, a small receipt ``cls/.uploads/{sha256 of the batch}.json``
      records where the batch starts. A retry whose batch is already there in full appends nothing; one
      whose batch was cut short by a crash cuts it off and appends it whole. A forced replay (``again``)
      appends anew, as it uploads anew to CLS.
    - Threads of one process share a lock; processes sharing the folder (the CLI beside ``serve``)
      take an advisory ``flock`` on the file.
    """

    concurrent = False

    _lock = threading.Lock()

    def __init__(self, root: Path) -> None:
        self.path = root / "cls" / RECORDS_FILE
        self.receipts = root / "cls" / ".uploads"

    def batches(self, records: Iterable[LogRecord]) -> Iterator[Sequence[LogRecord]]:
        batch: list[LogRecord] = []
        for rec in records:
            batch.append(rec)
            if len(batch) == BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def upload(self, records: Sequence[LogRecord], common: Mapping[str, str], *, again: bool = False) -> None:
        lines = "".join(
            json.dumps({"time_ms": r.time_ms, **r.fields, **common}, ensure_ascii=False) + "\n" for r in records
        )
        data = text.utf8(lines)
        receipt = self.receipts / f"{hashlib.sha256(data).hexdigest()}.json"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, _locked(self.path) as fd:
                end = os.lseek(fd, 0, os.SEEK_END)
                start = None if again else _receipt_start(receipt)
                if start is not None and start < end:
                    present = os.pread(fd, len(data), start)
                    if present == data:
                        return  # a retry of a batch that landed whole: nothing to add
                    if data.startswith(present) and start + len(present) == end:
                        end = _cut(fd, start)  # our batch, cut short by a crash: append it whole
                end = _cut_torn_tail(fd, end)
                _write_receipt(receipt, end)
                try:
                    _write_all(fd, data)
                except OSError:
                    _cut(fd, end)  # never leave part of a batch behind
                    raise
        except OSError as exc:
            raise failure(f"local append to {self.path}", exc) from exc


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[int]:
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # closing releases the flock


def _receipt_start(receipt: Path) -> int | None:
    try:
        start = json.loads(receipt.read_bytes())["start"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return start if isinstance(start, int) and start >= 0 else None


def _write_receipt(receipt: Path, start: int) -> None:
    receipt.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=receipt.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(json.dumps({"start": start}).encode())
        os.replace(tmp, receipt)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _cut(fd: int, size: int) -> int:
    os.ftruncate(fd, size)
    return size


def _cut_torn_tail(fd: int, end: int) -> int:
    """Cut a last line that has no newline (a writer killed mid-line); return the new end."""
    if end == 0 or os.pread(fd, 1, end - 1) == b"\n":
        return end
    position = end
    while position > 0:
        step = min(TAIL_CHUNK, position)
        chunk = os.pread(fd, step, position - step)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            return _cut(fd, position - step + newline + 1)
        position -= step
    return _cut(fd, 0)
