"""One module per CSS AI event family; each maps a verified body to a plan of writes.

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
    344: "handlers.quality:plan_threshold",
    345: "handlers.quality:plan_average",
    347: "handlers.erasing:plan",
    349: "handlers.highlight:plan",
}


@cache
def handler_for(event_type: int) -> Handler:
    module, _, name = ROUTES[event_type].partition(":")
    return getattr(import_module(module), name)  # type: ignore[no-any-return]
