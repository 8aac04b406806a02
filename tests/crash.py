"""The crash harness: deliveries in warm container processes killed with SIGKILL, then CSS's retries.

Each trial sends one new event to a container process and kills it at a chosen point: at a random
moment, or exactly when a given request reaches the local COS/CLS server (before it is processed, or
after it landed and before the answer). Then CSS's remaining attempts arrive 0.1 s apart at another
warm container, 3 attempts in all. A trial passes when the event ends fully stored: its marker and
archive exist, every object of it was written once, and its CLS records were uploaded exactly once,
or twice only in the documented window (the killed delivery's upload landed and its marker did not).

``python -m tests.crash --trials 400`` runs a large batch and prints the figures for the README.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cssai.executor import marker_key
from cssai.identity import event_id
from cssai.ops import events

ROOT = Path(__file__).resolve().parent.parent
KEY = "crash-harness-key"
TOKEN = "crash-harness-url-token-0001"  # relay callbacks (314) are admitted by a URL token alone
RETRY_SPACING = 0.1
# point -> (server, method, target pattern (with {id}), fault kind); "random" kills on a timer
POINTS: dict[str, tuple[str, str, str, str] | None] = {
    "random": None,
    "objects sent": ("cos", "PUT", r"events/.*/{id}\.json$", "kill_before"),
    "claim landed": ("cos", "PUT", r"{id}\.claim-0\.json$", "kill_after"),
    "archive landed": ("cos", "PUT", r"events/.*/{id}\.json$", "kill_after"),
    "before CLS": ("cls", "POST", r"/{id}$", "kill_before"),
    "CLS landed, before marker": ("cls", "POST", r"/{id}$", "kill_after"),
    "before marker": ("cos", "PUT", r"markers/\w+/{id}\.json$", "kill_before"),
    "marker landed": ("cos", "PUT", r"markers/\w+/{id}\.json$", "kill_after"),
}
# With forwarding on (Harness(..., downstream=...)): between the outbox write and the inline attempt, and
# between a forward the downstream received and the entry's removal. One trial at a time (lanes=1): the
# downstream's pattern cannot tell events apart.
FORWARD_POINTS: dict[str, tuple[str, str, str, str]] = {
    "outbox landed, before the inline attempt": ("cos", "PUT", r"outbox/\w+/{id}\.json$", "kill_after"),
    "forward received, before its removal": ("downstream", "POST", r".", "kill_after"),
}
TIMER = {"Type": "Timer", "TriggerName": "jobs", "Time": "2026-12-05T12:00:00Z", "Message": "forward"}


class Container:
    """A warm receiver process (``python -m tests.container``)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.container"], cwd=ROOT, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def ready(self) -> Container:
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if line.strip() != "ready":
            raise RuntimeError("container did not start")
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, event: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(event) + "\n")
        self.proc.stdin.flush()

    def answer(self) -> int:
        """The status it answered, or 0 when it died first."""
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        return json.loads(line)["statusCode"] if line else 0

    def handle(self, event: dict[str, Any]) -> int:
        self.send(event)
        return self.answer()

    def kill(self) -> None:
        self.proc.kill()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream:
                stream.close()


@dataclass
class Trial:
    point: str
    event_type: int
    answers: list[int]
    stored: bool
    objects_once: bool
    uploads: int
    window: bool  # the killed delivery's CLS upload landed without its marker: one duplicate allowed
    forwarded: bool | None = None  # with forwarding: received, verified, same event id, no entry left

    @property
    def ok(self) -> bool:
        return self.stored and self.objects_once and (self.uploads == 1 or (self.window and self.uploads == 2)) \
            and self.forwarded is not False

    @property
    def duplicated(self) -> bool:
        return self.uploads > 1


class Harness:
    """Local COS and CLS servers in this process, containers pointed at them."""

    def __init__(self, cos: Any, cls: Any, env: dict[str, str], downstream: Any = None) -> None:
        self.cos, self.cls, self.env = cos, cls, env
        self.downstream = downstream
        if downstream is not None:
            self.env = {**env, "FORWARD_RULES": f"*={downstream.url}/css", "FORWARD_TIMEOUT_SECONDS": "2"}
        self.bucket = env["COS_BUCKET"]
        self.topic = env["CLS_TOPIC_ID"]

    def spawn(self) -> Container:
        return Container(self.env)

    def trial(self, body: dict[str, Any], point: str, victim: Container, survivor: Container,
              rng: random.Random) -> Trial:
        eid = event_id(body)
        event = events.wrap(events.signed(body, KEY), "url", query={"token": TOKEN})
        aim = POINTS[point] if point in POINTS else FORWARD_POINTS[point]
        if aim is not None:
            server, method, pattern, kind = aim
            target = {"cos": self.cos, "cls": self.cls, "downstream": self.downstream}[server]
            target.inject(method, pattern.format(id=eid), kind, times=1, pid=victim.pid)
        victim.send(event)
        if aim is None:
            time.sleep(rng.uniform(0.0, 0.12))
            victim.kill()
        answers = [victim.answer()]
        victim.close()
        victim_uploaded = victim_marked = False
        for attempt in range(2):  # CSS: 3 attempts in all
            if answers[-1] == 200:
                break
            time.sleep(RETRY_SPACING)
            if attempt == 0:  # what the dead delivery's requests did, once the servers finished them
                victim_uploaded, victim_marked = self._uploaded(eid), self._marked(eid)
            answers.append(survivor.handle(event))
        forwarded = None
        if self.downstream is not None:  # the timer's forward job finishes what the deliveries left
            survivor.handle(TIMER)
            forwarded = self._forwarded(eid)
        return Trial(point, body["event_type"], answers, *self._check(eid, body),
                     window=victim_uploaded and not victim_marked, forwarded=forwarded)

    def _forwarded(self, eid: str) -> bool:
        """Received at least once, every copy verified with the same event id, and no entry left behind."""
        got = self.downstream.of(eid)
        with self.cos.lock:
            left = [k for (b, k) in self.cos.objects if b == self.bucket and k.startswith("outbox/") and eid in k]
        return bool(got) and all(r.verified for r in got) and not left

    def _uploaded(self, eid: str) -> bool:
        with self.cls.lock:
            return any(t.endswith(eid) and s == 200 for m, t, s in self.cls.log)

    def _marked(self, eid: str) -> bool:
        with self.cos.lock:
            return any(m == "PUT" and t.endswith(marker_key(eid)) and s == 200 for m, t, s in self.cos.log)

    def _check(self, eid: str, body: dict[str, Any]) -> tuple[bool, bool, int]:
        with self.cos.lock:
            mine = {k: o for (b, k), o in self.cos.objects.items()
                    if b == self.bucket and o.headers.get("x-cos-meta-event-id") == eid}
        data = {k: o for k, o in mine.items() if not k.startswith("markers/")}
        stored = marker_key(eid) in mine and any(k.startswith("events/") for k in data)
        once = bool(data) and all(o.writes == 1 for o in data.values())
        records = sum(1 for r in self.cls.records(self.topic)  # the event's own, not the forwards' bookkeeping
                      if r.get("event_id") == eid and r.get("kind") not in ("forwarded", "forward_dead"))
        per_event = records_per_event(body)
        return stored, once, records // per_event if records % per_event == 0 else -1


def records_per_event(body: dict[str, Any]) -> int:
    """How many CLS records one storing of ``body`` uploads: its family's plan says (default settings)."""
    from cssai.identity import event_seconds
    from cssai.settings import DEFAULT_THRESHOLDS, _parse_thresholds
    from handlers import handler_for
    from handlers.base import HandlerContext

    context = HandlerContext(event_id(body), _parse_thresholds(DEFAULT_THRESHOLDS), frozenset(), event_seconds(body))
    return len(list(handler_for(body["event_type"])(body, context).all_records()))


def run(harness: Harness, bodies: list[dict[str, Any]], points: list[str], lanes: int, seed: int,
        progress: Callable[[int], None] | None = None) -> list[Trial]:
    """Every (body, point) trial, ``lanes`` at a time, each lane with its own survivor container."""
    rng = random.Random(seed)
    jobs = list(zip(bodies, points, strict=True))
    results: list[Trial] = []
    lock = threading.Lock()

    def lane(chunk: list[tuple[dict[str, Any], str]], lane_seed: int) -> None:
        lane_rng = random.Random(lane_seed)
        survivor = harness.spawn().ready()
        victim = harness.spawn()
        try:
            for body, point in chunk:
                victim.ready()
                upcoming = harness.spawn()  # warms up while this trial runs
                result = harness.trial(body, point, victim, survivor, lane_rng)
                victim = upcoming
                with lock:
                    results.append(result)
                    if progress:
                        progress(len(results))
        finally:
            survivor.close()
            victim.close()

    threads = [threading.Thread(target=lane, args=(jobs[i::lanes], rng.randrange(2**32))) for i in range(lanes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def bodies_for(count: int, seed: int, samples: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    kinds = sorted(samples)
    return [{**samples[rng.choice(kinds)], "stream_id": f"crash-{seed}-{n}"} for n in range(count)]


def summary(results: list[Trial]) -> str:
    lines = ["| kill point | trials | stored | lost | CLS duplicated (all in the window) | failed checks |",
             "|---|---|---|---|---|---|"]
    by_point: dict[str, list[Trial]] = {}
    for trial in results:
        by_point.setdefault(trial.point, []).append(trial)
    for point in [*POINTS, *FORWARD_POINTS, "all"]:
        group = results if point == "all" else by_point.get(point, [])
        if not group:
            continue
        stored = sum(t.stored for t in group)
        dup = sum(t.duplicated for t in group)
        lines.append(f"| {point} | {len(group)} | {stored} | {len(group) - stored} | {dup} | "
                     f"{sum(not t.ok for t in group)} |" + ("" if group[0].forwarded is None else
                                                            f" forwarded {sum(bool(t.forwarded) for t in group)}"))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    from tests.conftest import BUCKET, SAMPLES, SECRET_ID, SECRET_KEY, TOPIC, sample
    from tests.conftest import TOKEN as SESSION_TOKEN
    from tests.fake_cls import ClsServer
    from tests.fake_cos import CosServer

    parser = argparse.ArgumentParser(prog="python -m tests.crash", description=__doc__)
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--lanes", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    cos = CosServer(SECRET_ID, SECRET_KEY, SESSION_TOKEN).start()
    cls = ClsServer(SECRET_ID, SECRET_KEY, SESSION_TOKEN).start()
    cos.latency = cls.latency = 0.005
    try:
        env = environment(cos.url, cls.url, BUCKET, TOPIC, SECRET_ID, SECRET_KEY, SESSION_TOKEN)
        harness = Harness(cos, cls, env)
        samples = {t: sample(t) for t in SAMPLES}
        bodies = bodies_for(args.trials, args.seed, samples)
        rng = random.Random(args.seed)
        points = [rng.choice(list(POINTS)) for _ in bodies]
        started = time.monotonic()
        results = run(harness, bodies, points, args.lanes, args.seed,
                      progress=lambda n: print(f"\r{n}/{len(bodies)}", end="", file=sys.stderr, flush=True))
        print(file=sys.stderr)
        print(f"{len(results)} trials in {time.monotonic() - started:.0f} s, seed {args.seed}, "
              f"retries {RETRY_SPACING} s apart, 3 attempts in all\n")
        print(summary(results))
        print("\nanswers:", dict(Counter(tuple(t.answers) for t in results).most_common(8)))
        return 0 if all(t.ok for t in results) else 1
    finally:
        cos.stop()
        cls.stop()


def environment(cos_url: str, cls_url: str, bucket: str, topic: str, secret_id: str, secret_key: str,
                token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COS_", "CLS_", "TENCENTCLOUD_", "CSS_"))}
    env.update({
        "CSS_CALLBACK_KEYS": KEY, "CALLBACK_URL_TOKENS": TOKEN,
        "COS_BUCKET": bucket, "COS_REGION": "ap-guangzhou", "COS_ENDPOINT_URL": cos_url,
        "CLS_TOPIC_ID": topic, "CLS_REGION": "ap-guangzhou", "CLS_ENDPOINT_URL": cls_url,
        "TENCENTCLOUD_SECRETID": secret_id, "TENCENTCLOUD_SECRETKEY": secret_key,
        "TENCENTCLOUD_SESSIONTOKEN": token, "REQUEST_TIMEOUT_SECONDS": "3", "LOG_LEVEL": "WARNING",
    })
    return env


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
