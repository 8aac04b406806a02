"""Nothing lost when a delivery dies, an answer is lost, or a retry arrives early.

The crash harness (tests/crash.py) kills warm container processes with SIGKILL at every point of
a delivery; the other tests lose answers after writes landed and send redeliveries while a live
delivery still holds the event.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

import index
from cssai.executor import claim_key, marker_key
from cssai.identity import event_id
from cssai.ops import events
from tests import crash
from tests.conftest import BUCKET, KEY, SAMPLES, SECRET_ID, SECRET_KEY, TOKEN, TOPIC, Cloud, Invoke, sample
from tests.crash import KEY as KEY_FOR_HARNESS

RECORDS = {t: crash.records_per_event(sample(t)) for t in SAMPLES}


def test_killed_deliveries_are_stored_by_css_remaining_attempts(cloud: Cloud) -> None:
    cloud.cos.latency = cloud.cls.latency = 0.005
    env = crash.environment(cloud.cos.url, cloud.cls.url, BUCKET, TOPIC, SECRET_ID, SECRET_KEY, TOKEN)
    harness = crash.Harness(cloud.cos, cloud.cls, env)
    samples = {t: sample(t) for t in RECORDS}
    points = [p for p in crash.POINTS if p != "random"] * 3 + ["random"] * 8
    bodies = crash.bodies_for(len(points), seed=7, samples=samples)
    results = crash.run(harness, bodies, points, lanes=4, seed=7)
    assert len(results) == len(points)
    failed = [(t.point, t.answers, t.stored, t.objects_once, t.uploads) for t in results if not t.ok]
    assert failed == [], crash.summary(results)
    assert all(t.answers[-1] == 200 and len(t.answers) <= 3 for t in results)
    # the documented window is the only source of duplicates, and it does occur where expected
    assert all(t.window for t in results if t.duplicated)
    assert all(t.duplicated for t in results if t.point == "CLS landed, before marker")


LOST = {
    "claim": ("cos", "PUT", r"\.claim-0\.json$"),
    "archive": ("cos", "PUT", r"events/"),
    "derived object": ("cos", "PUT", r"alerts/"),
    "cls upload": ("cls", "POST", r"topic"),
    "marker write": ("cos", "PUT", r"markers/\w+/\w+\.json$"),
}


@pytest.mark.parametrize("step", sorted(LOST))
def test_an_answer_lost_after_the_write_landed(cloud: Cloud, invoke: Invoke, step: str) -> None:
    server, method, pattern = LOST[step]
    (cloud.cos if server == "cos" else cloud.cls).inject(method, pattern, "lost", times=1)
    body = sample(344)
    assert invoke(body)["statusCode"] == 200  # retried within the delivery, recognising its own claim
    eid = event_id(body)
    assert marker_key(eid) in cloud.objects()
    data = {k: o for (b, k), o in cloud.cos.objects.items() if not k.startswith("markers/")}
    assert all(o.writes == 1 for o in data.values())
    uploads = 2 if step == "cls upload" else 1  # the documented window: an upload whose answer was lost
    assert len(cloud.records()) == RECORDS[344] * uploads


def test_a_claim_answered_after_the_request_timeout(cloud: Cloud, invoke: Invoke) -> None:
    cloud.configure(REQUEST_TIMEOUT_SECONDS="0.3")
    cloud.cos.inject("PUT", r"\.claim-0\.json$", "slow", times=1, delay=0.6)
    assert invoke(sample(349))["statusCode"] == 200
    assert len(cloud.records()) == RECORDS[349]


def test_an_early_retry_waits_for_the_live_holder_and_answers_as_a_duplicate(cloud: Cloud) -> None:
    cloud.cls.inject("POST", r"topic", "slow", times=1, delay=1.5)  # the first delivery is slow, not dead
    body = events.signed(sample(347), KEY)
    answers: list[int] = []
    first = threading.Thread(target=lambda: answers.append(index.main_handler(events.wrap(body, "url"), None)
                                                            ["statusCode"]))
    first.start()
    time.sleep(0.3)
    started = time.monotonic()
    retry = index.main_handler(events.wrap(body, "url"), None)
    waited = time.monotonic() - started
    first.join()
    assert answers == [200] and retry["statusCode"] == 200
    assert 0.5 < waited < 3.0  # it waited for the holder instead of answering 503 at once
    assert len(cloud.records()) == RECORDS[347]


def test_a_dead_holders_claim_is_taken_over_within_the_lease(cloud: Cloud, invoke: Invoke) -> None:
    body = sample(345)
    eid = event_id(body)
    dead = json.dumps({"owner": "a-container-that-died", "until": time.time() + 2.0}).encode()
    cloud.cos.seed(BUCKET, claim_key(eid), dead)
    started = time.monotonic()
    assert invoke(body)["statusCode"] == 200
    assert 1.5 < time.monotonic() - started < 4.0
    assert claim_key(eid, 1) in cloud.objects()  # the next generation, created by us
    assert len(cloud.records()) == RECORDS[345]


def test_a_live_holder_past_our_deadline_is_503_before_the_deadline(cloud: Cloud, invoke: Invoke) -> None:
    cloud.configure(DEADLINE_SECONDS="1")
    body = sample(349)
    alive = json.dumps({"owner": "someone-alive", "until": time.time() + 30}).encode()
    cloud.cos.seed(BUCKET, claim_key(event_id(body)), alive)
    started = time.monotonic()
    assert invoke(body)["statusCode"] == 503
    assert time.monotonic() - started < 1.0
    assert cloud.records() == []


def test_killed_deliveries_with_forwarding_store_and_forward_everything(cloud: Cloud) -> None:
    """Kills between the outbox write and the inline attempt, and between a received forward and its removal:
    nothing lost, every repeat with the same X-CSS-Event-Id, no entry left once the forward job ran."""
    from tests.fake_downstream import Downstream

    downstream = Downstream(key=KEY_FOR_HARNESS).start()
    try:
        cloud.cos.latency = cloud.cls.latency = 0.005
        env = crash.environment(cloud.cos.url, cloud.cls.url, BUCKET, TOPIC, SECRET_ID, SECRET_KEY, TOKEN)
        harness = crash.Harness(cloud.cos, cloud.cls, env, downstream=downstream)
        points = [*crash.FORWARD_POINTS] * 3 + ["marker landed", "random"]
        bodies = crash.bodies_for(len(points), seed=11, samples={t: sample(t) for t in (1, 100, 349, 314)})
        results = crash.run(harness, bodies, points, lanes=1, seed=11)
        assert [t.ok for t in results] == [True] * len(points), crash.summary(results)
        repeated = [t for t in results if t.point == "forward received, before its removal"]
        assert all(len(downstream.of(event_id(b))) >= 2 for b, p in zip(bodies, points, strict=True)
                   if p == "forward received, before its removal")
        assert repeated
    finally:
        downstream.stop()
