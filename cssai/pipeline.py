"""The receiver's one path: read, verify, identify, route, store, answer.

``handle`` never raises and answers 200 only once the event is stored.
"""

from __future__ import annotations

import gc
import ipaddress
import logging
import time
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from cssai import gateway, identity, keys, logs, text
from cssai.auth import authenticate
from cssai.body import BodyError, parse_object
from cssai.executor import DeadlineExceededError, InFlightError, LeaseLostError
from cssai.runtime import Runtime
from cssai.signature import SignatureError
from cssai.sinks import SinkError
from cssai.writes import Plan, PutObject, json_object
from handlers import ROUTES, handler_for
from handlers.base import HandlerContext

LARGE_BODY_BYTES = 1 << 20  # above this, a forward first collects the garbage storing left (tests/test_memory.py)
SAFETY_MARGIN_SECONDS = 1.0  # kept from SCF's time limit (at most a quarter of it): our answer comes first


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
        query = None if request.shape == "direct" else request.query
        authenticate(body, query, settings.callback_keys, settings.url_tokens, time.time() if now is None else now,
                     settings.callback_t_grace_seconds)
    except gateway.GatewayError as exc:
        return _refuse(exc.status, str(exc), fields, started)
    except BodyError as exc:
        return _refuse(400, str(exc), fields, started)
    except SignatureError as exc:
        return _refuse(401, str(exc), fields, started)

    answer_by = started + _budget(settings.deadline_seconds, context)
    result = store(body, request.body, runtime, answer_by, fields)
    ok = result.status == 200
    answer = gateway.response(200, gateway.OK) if ok else gateway.error(result.status, result.message)
    return _done(answer, fields, started, result.outcome, result.level)


@dataclass(frozen=True)
class Stored:
    """What storing a verified event came to: the status CSS gets, the log line's outcome and level."""

    status: int
    outcome: str  # stored, duplicate, invalid, failed
    level: int
    message: str = ""


def store(body: dict[str, Any], raw: bytes, runtime: Runtime, answer_by: float, fields: dict[str, Any], *,
          recovered: bool = False) -> Stored:
    """Identify, route and commit a verified event: a delivery's path, and the reconcile job's for a callback
    CSS kept but never delivered (``recovered``: its records and log line say so; its forwards wait for the
    forward job instead of an inline attempt)."""
    settings = runtime.settings
    event_id = identity.event_id(body)
    event_type = body.get("event_type")
    fields.update(event_id=event_id, event_type=event_type if isinstance(event_type, int) else _text(str(event_type)),
                  stream_id=_text(body.get("stream_id", body.get("streamId"))))
    if recovered:
        fields["recovered"] = True
    if text.has_lone_surrogates(raw):  # derived writes get U+FFFD; the archive keeps the bytes
        fields["invalid_unicode"] = "lone surrogates replaced by U+FFFD in derived objects and records"
        body = text.clean_tree(body)
    plan, status, reason = route(body, event_id, raw, runtime)
    if len(raw) > LARGE_BODY_BYTES:  # validation's garbage goes before the writes, not at a collector's whim
        gc.collect()
    if recovered:
        plan.common["recovered"] = "true"
    forwards = _forwards(plan, status, body, event_id, settings) if settings.forward_targets else []
    if logs.logger.isEnabledFor(logging.DEBUG):
        logs.event("plan", logging.DEBUG, event_id=event_id, objects=[o.key for o in plan.objects],
                   copies=[c.key for c in plan.copies], records=plan.record_count, status=status)
    try:
        outcome = runtime.executor.commit(plan, event_id, status, answer_by)
    except (SinkError, DeadlineExceededError, InFlightError, LeaseLostError) as exc:
        fields.update(writes=0, error=str(exc))
        return Stored(503, "failed", logging.ERROR, f"storage unavailable, retry later: {str(exc)[:500]}")
    fields["writes"] = outcome.writes
    if outcome.refused:  # kept as dead letters in COS: the event is stored, CLS said no to some records
        fields["cls_refused"] = outcome.refused
    if forwards and not recovered and not outcome.duplicate and outcome.status == 200:
        from cssai.jobs import inline

        if len(raw) > LARGE_BODY_BYTES:  # the re-signed copy must fit beside what storing left for the collector
            gc.collect()
        fields["forward"] = inline.attempt(runtime, forwards, raw, answer_by)
    if runtime.notifier is not None and not outcome.duplicate and outcome.status == 200:
        fields["notify"] = runtime.notifier.notify(plan.all_records(), event_id, answer_by)
    if outcome.status == 422:
        fields["error"] = reason
        return Stored(422, "invalid", logging.WARNING, reason or "event failed validation; dead-lettered")
    level = logging.ERROR if outcome.refused else logging.INFO
    return Stored(200, "duplicate" if outcome.duplicate else "stored", level)


def _forwards(plan: Plan, status: int, body: dict[str, Any], event_id: str, settings: Any) -> list[Any]:
    """The outbox entries of a stored event whose type a forward rule matches (none for a dead letter)."""
    if status != 200:
        return []
    from cssai.jobs import outbox, rules

    matching = rules.for_event(settings.forward_targets, body.get("event_type"))
    entries = outbox.entries_for(matching, event_id, body.get("event_type"), plan.objects[0].key, time.time())
    plan.outbox = [entry.put() for entry in entries]
    return entries


def route(body: dict[str, Any], event_id: str, raw: bytes, runtime: Runtime) -> tuple[Plan, int, str | None]:
    """The plan for a verified event: archive + its family's writes, or a dead letter."""
    settings = runtime.settings
    event_type = body.get("event_type")
    seconds = identity.event_seconds(body)  # read once: every object of the event files under this date
    date = identity.day(seconds)
    archive_key = keys.join("events", keys.segment(event_type), date, f"{event_id}.json")
    plan = Plan(objects=[PutObject(archive_key, raw)], common={"event_id": event_id, "event_type": str(event_type)},
                date=date)
    known = isinstance(event_type, int) and not isinstance(event_type, bool) and event_type in ROUTES
    if not known:
        return plan, 200, None
    handler = handler_for(event_type)
    hosts = settings.media_hosts if settings.media_copy else frozenset()
    context = HandlerContext(event_id, settings.thresholds, hosts, seconds)
    try:
        produced = handler(body, context)
    except ValidationError as exc:
        reason = _validation_reason(exc)
    except Exception as exc:  # a handler bug must not lose the event: dead-letter it
        reason = f"handler failed: {type(exc).__name__}"
    else:
        plan.extend(produced)
        return plan, 200, None
    plan.objects.append(_dead_letter(body, event_id, event_type, reason, date, archive_key))
    return plan, 422, reason


def _dead_letter(body: dict[str, Any], event_id: str, event_type: object, reason: str, date: str,
                 archive_key: str) -> PutObject:
    """The event with the reason; if the event itself cannot be re-encoded, a pointer to its archive."""
    letter = {"event_id": event_id, "event_type": event_type, "reason": reason, "archive": archive_key}
    try:
        return json_object(keys.join("deadletter", date, f"{event_id}.json"), {**letter, "event": body})
    except (ValueError, TypeError, RecursionError):
        return json_object(keys.join("deadletter", date, f"{event_id}.json"), letter)


def _validation_reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_input=False, include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}")
    return "invalid event: " + "; ".join(parts)


def _budget(deadline_seconds: float, context: object) -> float:
    """Seconds until we must answer: DEADLINE_SECONDS, and always inside SCF's own time limit."""
    limit_ms = _context_value(context, "time_limit_in_ms")
    if isinstance(limit_ms, (int, float)) and not isinstance(limit_ms, bool) and limit_ms > 0:
        limit = limit_ms / 1000
        return min(deadline_seconds, limit - min(SAFETY_MARGIN_SECONDS, limit / 4))
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
