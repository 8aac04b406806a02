"""The receiver's one path: read, verify, identify, route, store, answer.

``handle`` never raises and answers 200 only once the event is stored.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from typing import Any

from pydantic import ValidationError

from cssai import gateway, identity, keys, logs
from cssai.body import BodyError, parse_object
from cssai.executor import DeadlineExceededError, InFlightError
from cssai.runtime import Runtime
from cssai.signature import SignatureError, verify
from cssai.sinks import SinkError
from cssai.writes import Plan, PutObject, json_object
from handlers import ROUTES, handler_for
from handlers.base import HandlerContext

SAFETY_MARGIN_SECONDS = 1.0


def handle(event: object, context: object, runtime: Runtime, now: float | None = None) -> dict[str, Any]:
    started = time.monotonic()
    settings = runtime.settings
    fields: dict[str, Any] = {"request_id": _context_value(context, "request_id")}
    try:
        request = gateway.parse(event, settings.max_body_bytes)
        fields["shape"] = request.shape
        if request.method == "GET":
            return _done(gateway.response(200, {"code": 0, "status": "ok"}), fields, started, "health")
        if request.method != "POST":
            raise gateway.GatewayError(405, "only POST is accepted")
        if settings.allowed_networks and not _allowed(request.source_ip, settings):
            raise gateway.GatewayError(403, "source address not allowed")
        body = request.parsed if request.parsed is not None else parse_object(request.body)
        verify(body, settings.callback_keys, time.time() if now is None else now)
    except gateway.GatewayError as exc:
        return _refuse(exc.status, str(exc), fields, started)
    except BodyError as exc:
        return _refuse(400, str(exc), fields, started)
    except SignatureError as exc:
        return _refuse(401, str(exc), fields, started)

    event_id = identity.event_id(body)
    event_type = body.get("event_type")
    fields.update(event_id=event_id, event_type=event_type if isinstance(event_type, int) else _text(str(event_type)),
                  stream_id=_text(body.get("stream_id")))
    plan, status, reason = route(body, event_id, request.body, runtime)
    fields["writes"] = plan.size
    if logs.logger.isEnabledFor(logging.DEBUG):
        logs.event("plan", logging.DEBUG, event_id=event_id, objects=[o.key for o in plan.objects],
                   copies=[c.key for c in plan.copies], records=len(plan.records), status=status)
    deadline = started + _budget(settings.deadline_seconds, context)
    try:
        outcome = runtime.executor.commit(plan, event_id, status, deadline)
    except (SinkError, DeadlineExceededError, InFlightError) as exc:
        fields["error"] = str(exc)
        return _done(gateway.error(503, "storage unavailable, retry later"), fields, started, "failed", logging.ERROR)
    kind = "duplicate" if outcome.duplicate else "stored"
    if runtime.notifier is not None and not outcome.duplicate and outcome.status == 200:
        fields["notify"] = runtime.notifier.notify(plan.records, event_id, deadline)
    if outcome.status == 422:
        fields["error"] = reason
        return _done(gateway.error(422, reason or "event failed validation; dead-lettered"), fields, started, kind)
    return _done(gateway.response(200, gateway.OK), fields, started, kind)


def route(body: dict[str, Any], event_id: str, raw: bytes, runtime: Runtime) -> tuple[Plan, int, str | None]:
    """The plan for a verified event: archive + its family's writes, or a dead letter."""
    settings = runtime.settings
    event_type = body.get("event_type")
    date = identity.day(identity.event_seconds(body))
    plan = Plan(objects=[PutObject(keys.join("events", keys.segment(event_type), date, f"{event_id}.json"), raw)])
    known = isinstance(event_type, int) and not isinstance(event_type, bool) and event_type in ROUTES
    if not known:
        return plan, 200, None
    handler = handler_for(event_type)
    hosts = settings.media_hosts if settings.media_copy else frozenset()
    context = HandlerContext(event_id, settings.thresholds, hosts)
    try:
        produced = handler(body, context)
    except ValidationError as exc:
        reason = _validation_reason(exc)
    except Exception as exc:  # a handler bug must not lose the event: dead-letter it
        reason = f"handler failed: {type(exc).__name__}"
    else:
        for rec in produced.records:
            rec.fields.update(event_id=event_id, event_type=str(event_type))
        plan.extend(produced)
        return plan, 200, None
    letter = {"event_id": event_id, "event_type": event_type, "reason": reason, "event": body}
    plan.objects.append(json_object(keys.join("deadletter", date, f"{event_id}.json"), letter))
    return plan, 422, reason


def _validation_reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_input=False, include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}")
    return "invalid event: " + "; ".join(parts)


def _budget(deadline_seconds: float, context: object) -> float:
    limit_ms = _context_value(context, "time_limit_in_ms")
    if isinstance(limit_ms, (int, float)) and not isinstance(limit_ms, bool) and limit_ms > 0:
        return max(0.5, min(deadline_seconds, limit_ms / 1000 - SAFETY_MARGIN_SECONDS))
    return deadline_seconds


def _context_value(context: object, name: str) -> Any:
    if isinstance(context, dict):
        return context.get(name)
    return getattr(context, name, None)


def _allowed(source_ip: str | None, settings: Any) -> bool:
    try:
        address = ipaddress.ip_address(source_ip or "")
    except ValueError:
        return False
    return any(address in network for network in settings.allowed_networks)


def _text(value: object) -> str | None:
    return value[:200] if isinstance(value, str) else None


def _refuse(status: int, message: str, fields: dict[str, Any], started: float) -> dict[str, Any]:
    fields["error"] = message
    return _done(gateway.error(status, message), fields, started, "refused", logging.WARNING)


def _done(answer: dict[str, Any], fields: dict[str, Any], started: float, outcome: str,
          level: int = logging.INFO) -> dict[str, Any]:
    elapsed_ms = round((time.monotonic() - started) * 1000, 2)
    fields.update(outcome=outcome, status=answer["statusCode"], duration_ms=elapsed_ms)
    logs.event("callback", level, **fields)
    return answer
