"""One JSON line per event on stdout, which SCF ships to its log topic.

Values come from untrusted bodies; JSON encoding escapes newlines, so a stream id
cannot forge a second log line.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from cssai import text

logger = logging.getLogger("cssai")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"level": record.levelname, "msg": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        return text.clean(json.dumps(line, ensure_ascii=False, default=str))


class _Stdout(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout is now, so a swapped stdout (tests, CLI) is honoured.

    The CLI's human commands set ``to_stderr`` so that their own output on stdout stays readable.
    """

    to_stderr = False

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr if _Stdout.to_stderr else sys.stdout

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure(level: str) -> None:
    if not any(isinstance(h, _Stdout) for h in logger.handlers):
        handler = _Stdout()
        handler.setFormatter(JsonLines())
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)


def to_stderr(on: bool = True) -> None:
    """Send the JSON lines to stderr (the CLI's human commands), or back to stdout."""
    _Stdout.to_stderr = on


class Outcomes(logging.Handler):
    """Remembers the fields of the last ``callback`` line: how the CLI learns what happened."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.last: dict[str, Any] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() in ("callback", "configuration error"):
            self.last = dict(getattr(record, "fields", {}))


def ensure() -> None:
    """JSON lines on stdout even before the settings could be read (a bad setting is logged too)."""
    if not any(isinstance(h, _Stdout) for h in logger.handlers):
        configure("INFO")


def event(message: str, level: int = logging.INFO, **fields: Any) -> None:
    logger.log(level, message, extra={"fields": fields})
