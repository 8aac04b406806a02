"""Runs a plan through the sinks: concurrent, retried, claimed, bounded by the event's deadline.

Order, and why:
1. create claim 0 (create-if-absent) and put every object create-if-absent, all at once; only
   when claim 0 already existed, read the event's marker (a delivery that created claim 0 is the
   first ever, so there is no marker to read). A redelivery that finds the marker writes nothing
   new (its puts are refused);
2. hold the claim (below), then upload the CLS records and, beside them, the plan's outbox entries
   (forwards: written only by a holder, so a duplicate never re-creates one that was delivered);
3. write the marker last, so it exists only when everything before it succeeded.

Only step 2 needs mutual exclusion: objects are create-if-absent, and CLS has no idempotent
write. The claim that gives it:

- **Generations.** Claims are ``….claim-{g}.json``. A delivery holds generation g once *it*
  created that object (``x-cos-forbid-overwrite``). A dead or released holder is replaced by
  creating g+1, so of two deliveries taking over at the same instant exactly one wins: COS's
  create-if-absent decides, not a clock.
- **Owners.** Each delivery writes a random owner token into its claim, so a delivery whose
  claim PUT landed but whose answer was lost recognises its own claim instead of waiting on it.
- **Short, renewed leases.** A holder renews ``until`` every ``RENEW_SECONDS`` while it stores;
  a claim not renewed for ``LEASE_SECONDS`` belongs to a dead delivery (SCF kills containers) and
  is taken over within seconds. A holder whose own renewals stopped landing stops before CLS or
  the marker (its lease may have passed), so two live deliveries never both upload; a renewal that
  lands only after the lease lapsed does not revive it (the next generation may exist by then).
- **Waiting, not refusing.** A redelivery that meets a live claim polls the marker and the claim
  within its own deadline: the marker appears (a duplicate: answer as the holder did) or the claim
  expires or is released (take over). Only a holder still alive at the deadline gets a 503.

The remaining CLS duplicate window: an upload that landed but whose answer was lost (retried), or
a holder that uploaded and then died or failed before its marker landed (the next generation
uploads again). Leases compare the holder's clock with the taker's: ``CLOCK_SKEW_SECONDS`` of
disagreement is tolerated (SCF hosts keep NTP time).

Network sinks run each step's writes concurrently on a pool built once per container; local
sinks (``concurrent = False``) run them inline and renew between steps.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from cssai.sinks import LogSink, ObjectSink, SinkError
from cssai.writes import LogRecord, Plan, PutObject, json_object

BACKOFF_SECONDS = 0.05
LEASE_SECONDS = 4.0
RENEW_SECONDS = 1.0
POLL_SECONDS = 0.2
CLOCK_SKEW_SECONDS = 0.5
REMEMBERED = 10_000  # event ids per container (~1 MB)
RELEASE_RESERVE_SECONDS = 0.5  # kept back from the work so that a release still lands before the answer
Action = Callable[[], Any]


class DeadlineExceededError(Exception):
    """The event could not be stored before its deadline (answered 503)."""


class InFlightError(Exception):
    """Another live delivery of the same event still held its claim at our deadline (answered 503)."""


class LeaseLostError(Exception):
    """Our claim's lease may have passed (renewals failed): stop before writing what needs it."""


@dataclass(frozen=True)
class Outcome:
    duplicate: bool
    status: int
    refused: list[str] = field(default_factory=list)  # CLS refusals whose records went to a dead letter
    writes: int = 0


def marker_key(event_id: str) -> str:
    return f"markers/{event_id[:2]}/{event_id}.json"


def claim_key(event_id: str, generation: int = 0) -> str:
    return f"markers/{event_id[:2]}/{event_id}.claim-{generation}.json"


def refused_key(date: str, event_id: str, batch: int) -> str:
    return f"deadletter/cls/{date}/{event_id}-{batch}.json"


@dataclass
class Claim:
    """What a claim object says: who holds it and until when (0: released)."""

    owner: str
    until: float

    @staticmethod
    def read(raw: bytes | None) -> Claim | None:
        if raw is None:
            return None
        try:
            doc = json.loads(raw)
            return Claim(str(doc["owner"]), float(doc["until"]))
        except (ValueError, KeyError, TypeError):
            return Claim("", 0.0)  # unreadable: treat as released

    def body(self) -> bytes:
        return json.dumps({"owner": self.owner, "until": round(self.until, 3)}).encode()

    def live(self, now: float) -> bool:
        return self.until + CLOCK_SKEW_SECONDS > now


class Lease:
    """The claim we hold, kept alive while we store: renewed by a thread, or between steps inline."""

    def __init__(self, objects: ObjectSink, event_id: str, generation: int, owner: str, valid_until: float,
                 pool: ThreadPoolExecutor | None = None, key: str | None = None) -> None:
        self.objects = objects
        self.pool = pool
        self.key = key or claim_key(event_id, generation)
        self.event_id = event_id
        self.owner = owner
        self.valid_until = valid_until
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False

    def renew(self) -> None:
        """Extend the lease, but only by a renewal that landed while the lease still held.

        A renewal that lands after ``valid_until`` (less the skew) may land after another delivery saw the
        claim lapse and took generation g+1: it proves nothing, and the lease stays lost for good.
        """
        if self.lost:
            return
        sent = time.time()
        self.objects.put(PutObject(self.key, Claim(self.owner, sent + LEASE_SECONDS).body()), self.event_id,
                         if_absent=False)
        if time.time() >= self.valid_until - CLOCK_SKEW_SECONDS:
            self.lost = True
            return
        self.valid_until = max(self.valid_until, sent + LEASE_SECONDS)

    def renew_if_due(self) -> None:
        if self.valid_until - time.time() < LEASE_SECONDS - RENEW_SECONDS:
            with contextlib.suppress(SinkError):  # check() decides whether what is left is enough
                self.renew()

    def check(self) -> None:
        """Raise unless no other delivery can have taken the claim over."""
        if self._thread is None:  # inline: renew here, between steps
            self.renew_if_due()
        if self.lost or time.time() >= self.valid_until - CLOCK_SKEW_SECONDS:
            self.lost = True
            raise LeaseLostError("our claim's lease could not be renewed in time; not writing CLS or the marker")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="claim-renewer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(RENEW_SECONDS) and not self.lost:
            try:
                self.renew()
            except Exception:  # noqa: S112 - the next tick tries again; check() guards the writes
                continue

    def stop(self) -> None:
        self._stop.set()

    def release(self, deadline: float) -> None:
        """Best effort: mark the claim released so a retry need not wait for the lease to pass."""
        self.stop()
        if time.monotonic() >= deadline:
            return
        release = PutObject(self.key, Claim(self.owner, 0).body())
        if self.pool is None:
            with contextlib.suppress(SinkError):  # else the lease expires by itself within LEASE_SECONDS
                self.objects.put(release, self.event_id, if_absent=False)
            return
        future = self.pool.submit(_quietly, self.objects.put, release, self.event_id, if_absent=False)
        wait([future], timeout=max(0.0, deadline - time.monotonic()))  # never past the answer


class Executor:
    def __init__(self, objects: ObjectSink, logs: LogSink, pool: ThreadPoolExecutor, attempts: int) -> None:
        self.objects = objects
        self.logs = logs
        self.pool = pool
        self.attempts = attempts
        self.inline = not (getattr(objects, "concurrent", True) or getattr(logs, "concurrent", True))
        self._stored: OrderedDict[str, int] = OrderedDict()  # event ids whose marker this container wrote
        self._stored_lock = threading.Lock()

    def _remember(self, event_id: str, status: int) -> None:
        """Markers are never removed, so a redelivery of an event stored here is a duplicate for sure."""
        with self._stored_lock:
            self._stored[event_id] = status
            while len(self._stored) > REMEMBERED:
                self._stored.popitem(last=False)

    def commit(self, plan: Plan, event_id: str, status: int, answer_by: float, *, force: bool = False) -> Outcome:
        """Store ``plan`` once; on a redelivery return the status first answered.

        Work stops at ``answer_by`` less a reserve, in which a failed delivery releases its claim.
        A marker that recorded a 422 does not stop an event that now validates (a fix was
        deployed). ``force`` (replay) stores again whatever a marker says, overwriting objects and
        uploading the records anew.
        """
        known = None if force else self._stored.get(event_id)
        if known is not None:  # this container wrote its marker: a redelivery that costs no request
            return Outcome(duplicate=True, status=known)
        deadline = answer_by - min(RELEASE_RESERVE_SECONDS, max(0.0, answer_by - time.monotonic()) * 0.25)
        owner = secrets.token_hex(8)
        first_claim = Claim(owner, time.time() + LEASE_SECONDS)
        marker = marker_key(event_id)
        read_marker: Action = (lambda: None) if force else (lambda: self.objects.get(marker))
        create_claim = _put(self.objects, PutObject(claim_key(event_id), first_claim.body()), event_id)
        writes = [_put(self.objects, o, event_id, if_absent=not force) for o in plan.objects]
        writes += [_bind(self.objects.copy, c, event_id) for c in plan.copies]

        if self.inline:
            created = self._try(create_claim, deadline)
            pending: list[Future[Any]] = []
        else:  # the object puts share the claim's round trip
            started = [self.pool.submit(self._retry, a, deadline) for a in (create_claim, *writes)]
            pending = started[1:]
            created = self._outcome(started[0], deadline)
        # Markers are written only by claim holders, and every holder's generation chain starts at 0: a
        # delivery that created generation 0 knows that no marker exists, and skips reading it.
        try:
            previous = None if created else self._run([read_marker], deadline)[0]
        except BaseException:
            self._settle(pending, deadline)
            raise
        if self._settles(previous, status, force=False):
            self._settle(pending, deadline)  # refused puts finish: nothing is writing once we answer
            return Outcome(duplicate=True, status=stored_status(previous or b"", status))

        try:
            held = self._acquire(event_id, owner, created, first_claim.until, deadline, status=status, force=force)
        except BaseException:
            self._settle(pending, deadline)
            raise
        if not isinstance(held, Lease):  # the holder finished while we waited: a duplicate
            self._settle(pending, deadline)
            return Outcome(duplicate=True, status=stored_status(held, status))
        lease = held

        if not self.inline:
            lease.start()
        try:
            if self.inline:
                self._run(writes, deadline)
            else:
                self._gather(pending, deadline)
            outbox = [_put(self.objects, o, event_id) for o in plan.outbox]  # the holder's alone: never a duplicate
            queued = [] if self.inline else [self.pool.submit(self._retry, a, deadline) for a in outbox]
            refused = self._upload(plan, event_id, lease, deadline, again=force)
            if self.inline:
                self._run(outbox, deadline)
            else:
                self._gather(queued, deadline)
            lease.check()
            done = f'{{"event_id":"{event_id}","status":{status},"writes":{plan.size}}}'.encode()
            self._run([_put(self.objects, PutObject(marker, done), event_id, if_absent=False)], deadline)
        except BaseException:
            lease.release(answer_by)
            raise
        if self.inline:  # cheap on local files; in the cloud the marker settles redeliveries without it
            lease.release(answer_by)
        else:
            lease.stop()
        self._remember(event_id, status)
        return Outcome(duplicate=False, status=status, refused=refused, writes=plan.size)

    def _lease(self, event_id: str, generation: int, owner: str, until: float) -> Lease:
        return Lease(self.objects, event_id, generation, owner, until, None if self.inline else self.pool)

    def _acquire(self, event_id: str, owner: str, created: bool | None, until: float, deadline: float, *,
                 status: int, force: bool) -> Lease | bytes:
        """Hold a claim generation, or wait for the live holder: its marker when it finished.

        A marker ends the wait only if it settles this delivery (stored, or both invalid); a forced
        store (replay) waits for the holder to release or expire whatever the marker says.
        """
        generation = 0
        while True:
            if created:
                return self._lease(event_id, generation, owner, until)
            key = claim_key(event_id, generation)
            held = Claim.read(self._run([lambda k=key: self.objects.get(k)], deadline)[0])
            if held is None:  # our create failed without landing: try again
                until = time.time() + LEASE_SECONDS
                created = self._try(_put(self.objects, PutObject(key, Claim(owner, until).body()), event_id),
                                    deadline)
                continue
            if held.owner == owner:  # our create landed but its answer was lost
                return self._lease(event_id, generation, owner, held.until)
            if not held.live(time.time()):  # died, released, or finished: the marker tells which
                marker = self._run([lambda: self.objects.get(marker_key(event_id))], deadline)[0]
                if self._settles(marker, status, force):
                    return marker  # type: ignore[return-value]
                generation += 1  # the next generation, if we create it first
                until = time.time() + LEASE_SECONDS
                nxt = PutObject(claim_key(event_id, generation), Claim(owner, until).body())
                created = self._try(_put(self.objects, nxt, event_id), deadline)
                continue
            marker = self._wait_for_holder(event_id, deadline)
            if self._settles(marker, status, force):
                return marker  # type: ignore[return-value]
            created = False  # re-read this generation's claim

    @staticmethod
    def _settles(marker: bytes | None, status: int, force: bool) -> bool:
        """Whether a marker makes this delivery a duplicate (a forced replay stores regardless)."""
        return marker is not None and not force and (stored_status(marker, status) == 200 or status == 422)

    def _wait_for_holder(self, event_id: str, deadline: float) -> bytes | None:
        """Sleep one poll, then return the holder's marker if it has finished."""
        if time.monotonic() + POLL_SECONDS >= deadline:
            raise InFlightError("another delivery of this event is still storing it (its claim is live)")
        time.sleep(POLL_SECONDS)
        return self._run([lambda: self.objects.get(marker_key(event_id))], deadline)[0]

    def _upload(self, plan: Plan, event_id: str, lease: Lease, deadline: float, *, again: bool) -> list[str]:
        """Upload the records batch by batch; a batch CLS refuses for good becomes a dead-letter object."""
        refused: list[str] = []
        for index, batch in enumerate(self.logs.batches(plan.all_records())):
            lease.check()
            try:
                self._run([lambda b=batch: self.logs.upload(b, plan.common, again=again)], deadline)
            except SinkError as exc:
                if not exc.refused:
                    raise
                refused.append(str(exc))
                letter = json_object(refused_key(plan.date, event_id, index),
                                     {"event_id": event_id, "error": str(exc), "common": plan.common,
                                      "records": [_as_dict(r) for r in batch]})
                self._run([_put(self.objects, letter, event_id, if_absent=False)], deadline)
        return refused

    def _try(self, action: Action, deadline: float) -> bool | None:
        """A create-if-absent: True created, False exists, None unknown (it may have landed).

        A permanent failure (a read-only folder, denied credentials) is raised at once: trying again
        until the deadline could not change it.
        """
        try:
            return bool(self._run([action], deadline)[0])
        except SinkError as exc:
            if not exc.transient:
                raise
            return None

    def _outcome(self, future: Future[Any], deadline: float) -> bool | None:
        self._settle([future], deadline)
        if not future.done():
            raise DeadlineExceededError("the claim write was still running at the deadline")
        error = future.exception()
        if error is None:
            return bool(future.result())
        if isinstance(error, SinkError) and error.transient:
            return None
        raise error

    def _run(self, actions: Sequence[Action], deadline: float) -> list[Any]:
        if self.inline:
            return [self._retry(a, deadline) for a in actions]
        return self._gather([self.pool.submit(self._retry, a, deadline) for a in actions], deadline)

    @staticmethod
    def _settle(futures: Sequence[Future[Any]], deadline: float) -> None:
        if futures:
            wait(futures, timeout=max(0.0, deadline - time.monotonic()))

    def _gather(self, futures: list[Future[Any]], deadline: float) -> list[Any]:
        done, pending = wait(futures, timeout=max(0.0, deadline - time.monotonic()), return_when=FIRST_EXCEPTION)
        for future in done:
            error = future.exception()
            if error is not None:
                raise error
        if pending:
            raise DeadlineExceededError(f"{len(pending)} write(s) still running at the deadline")
        return [f.result() for f in futures]

    def _retry(self, action: Action, deadline: float) -> Any:
        for attempt in range(1, self.attempts + 1):
            if time.monotonic() >= deadline:
                raise DeadlineExceededError("deadline reached before a write could start")
            try:
                return action()
            except SinkError as exc:
                pause = BACKOFF_SECONDS * 2 ** (attempt - 1)
                if not exc.transient or attempt == self.attempts or time.monotonic() + pause >= deadline:
                    raise
                time.sleep(pause)
        raise AssertionError("unreachable")


def _quietly(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """For fire-and-forget writes: a failure is expected to be absorbed (a lease expires by itself)."""
    with contextlib.suppress(SinkError):
        return fn(*args, **kwargs)
    return None


def _put(objects: ObjectSink, obj: PutObject, event_id: str, *, if_absent: bool = True) -> Action:
    return lambda: objects.put(obj, event_id, if_absent=if_absent)


def _bind(fn: Callable[..., Any], *args: object) -> Action:
    return lambda: fn(*args)


def _as_dict(rec: LogRecord) -> dict[str, Any]:
    return {"time_ms": rec.time_ms, **rec.fields}


def stored_status(marker: bytes, default: int) -> int:
    try:
        status = json.loads(marker).get("status")
    except (ValueError, AttributeError):
        return default
    return status if status in (200, 422) else default

