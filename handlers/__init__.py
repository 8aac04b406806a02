"""One module per CSS AI event family; each maps a verified body to a plan of writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cssai.writes import Plan
from handlers import erasing, highlight, quality
from handlers.base import HandlerContext

Handler = Callable[[dict[str, Any], HandlerContext], Plan]

ROUTES: dict[int, Handler] = {
    344: quality.plan_threshold,
    345: quality.plan_average,
    347: erasing.plan,
    349: highlight.plan,
}
