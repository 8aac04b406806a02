"""A lease that lapsed stays lost: two executors, one whose renewals fail for longer than the lease."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from cssai import executor
from cssai.executor import Executor, LeaseLostError, marker_key
from cssai.sinks import SinkError
from cssai.writes import LogRecord, Plan, PutObject, record


class Objects:
    """An object store with create-if-absent, shared by both deliveries."""

    concurrent = True

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def put(self, obj: PutObject, event_id: str, *, if_absent: bool) -> bool:
        with self.lock:
            if if_absent and obj.key in self.data:
                return False
            self.data[obj.key] = obj.body
            return True

    def copy(self, *_: object) -> None:
        return None

    def list(self, prefix: str) -> Iterator[str]:
        return iter(sorted(k for k in self.data if k.startswith(prefix)))


class Unlucky(Objects):
    """One delivery's view: its claim renewals fail while ``failing``; its archive put waits for ``gate``."""

    def __init__(self, shared: Objects) -> None:
        self.shared = shared
        self.failing = threading.Event()
        self.gate = threading.Event()
        self.renewals_landed = 0

    def get(self, key: str) -> bytes | None:
        return self.shared.get(key)

    def put(self, obj: PutObject, event_id: str, *, if_absent: bool) -> bool:
        if ".claim-" in obj.key and not if_absent:
            if self.failing.is_set():
                raise SinkError("renewal failed", transient=True)
            self.renewals_landed += 1
        if obj.key.startswith("events/"):
            self.gate.wait(30)
        return self.shared.put(obj, event_id, if_absent=if_absent)


class Logs:
    concurrent = True

    def __init__(self) -> None:
        self.uploaded: list[tuple[str, LogRecord]] = []

    def batches(self, records: Iterable[LogRecord]) -> Iterator[Sequence[LogRecord]]:
        batch = list(records)
        if batch:
            yield batch

    def upload(self, records: Sequence[LogRecord], common: Mapping[str, str], *, again: bool = False) -> None:
        self.uploaded.extend((common["event_id"], r) for r in records)


def plan(event_id: str) -> Plan:
    return Plan(objects=[PutObject(f"events/1/undated/{event_id}.json", b"{}")],
                records=[record(1000, kind="k")], common={"event_id": event_id})


@pytest.fixture(autouse=True)
def short_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-second lease renewed every 0.2 s: the same races as in production, in seconds."""
    monkeypatch.setattr(executor, "LEASE_SECONDS", 1.0)
    monkeypatch.setattr(executor, "RENEW_SECONDS", 0.2)
    monkeypatch.setattr(executor, "CLOCK_SKEW_SECONDS", 0.2)


def test_a_renewal_landing_after_the_lease_lapsed_does_not_revive_it() -> None:
    shared, logs = Objects(), Logs()
    unlucky = Unlucky(shared)
    pool = ThreadPoolExecutor(8)
    first = Executor(unlucky, logs, pool, attempts=1)
    second = Executor(shared, logs, pool, attempts=3)
    event = "ab" * 32
    outcome: dict[str, object] = {}

    def deliver_first() -> None:
        try:
            outcome["first"] = first.commit(plan(event), event, 200, time.monotonic() + 20)
        except LeaseLostError as exc:
            outcome["first"] = exc

    thread = threading.Thread(target=deliver_first)
    unlucky.failing.set()  # from the start: the first delivery's renewals never land
    thread.start()
    time.sleep(1.6)  # longer than the lease and the skew: the claim has lapsed
    taken = second.commit(plan(event), event, 200, time.monotonic() + 10)
    assert taken.status == 200 and not taken.duplicate
    assert executor.claim_key(event, 1) in shared.data  # the second delivery took generation 1
    unlucky.failing.clear()  # now the first delivery's renewals land, too late
    deadline = time.time() + 3
    while unlucky.renewals_landed == 0 and time.time() < deadline:
        time.sleep(0.05)
    unlucky.gate.set()
    thread.join(20)
    assert isinstance(outcome["first"], LeaseLostError), outcome
    assert [eid for eid, _ in logs.uploaded] == [event]  # one upload: the lapsed holder never uploaded
    assert shared.data[marker_key(event)]
    pool.shutdown()


def test_a_holder_whose_renewals_land_keeps_its_lease() -> None:
    """The control: renewals that land in time keep a slow delivery its claim."""
    shared, logs = Objects(), Logs()
    slow = Unlucky(shared)
    pool = ThreadPoolExecutor(8)
    event = "cd" * 32
    timer = threading.Timer(1.6, slow.gate.set)
    timer.start()
    done = Executor(slow, logs, pool, attempts=1).commit(plan(event), event, 200, time.monotonic() + 20)
    assert done.status == 200 and slow.renewals_landed >= 3
    assert [eid for eid, _ in logs.uploaded] == [event]
    pool.shutdown()
