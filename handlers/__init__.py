"""One module per CSS callback family; each maps a verified body to a plan of writes.

Modules are imported on first use, so a cold container builds only the pydantic
models of the family its first event belongs to.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import import_module
from typing import Any

from cssai.writes import Plan
from handlers.base import HandlerContext

Handler = Callable[[dict[str, Any], HandlerContext], Plan]

ROUTES: dict[int, str] = {
    1: "handlers.stream:plan_session",  # push
    0: "handlers.stream:plan_session",  # interruption
    321: "handlers.stream:plan_push_error",
    100: "handlers.recording:plan_file",
    332: "handlers.recording:plan_status",
    341: "handlers.recording:plan_exception",
    200: "handlers.snapshot:plan",
    317: "handlers.moderation:plan_image",
    315: "handlers.moderation:plan_audio",
    314: "handlers.relay:plan",
    343: "handlers.quality:plan_control",
    344: "handlers.quality:plan_threshold",
    345: "handlers.quality:plan_average",
    347: "handlers.erasing:plan",
    338: "handlers.subtitles:plan",
    348: "handlers.summary:plan",
    349: "handlers.highlight:plan",
}


@cache
def handler_for(event_type: int) -> Handler:
    module, _, name = ROUTES[event_type].partition(":")
    return getattr(import_module(module), name)  # type: ignore[no-any-return]
