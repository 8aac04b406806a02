"""A realistic day of an account for the reconcile job: hundreds of streams, and a few callbacks that never came.

Every stream pushes one to three sessions over the day; each session's push (1), stop (0) and, for one in
three, recording file (100) callbacks reach the receiver, except:
- a few pushes and stops CSS tried and failed to deliver (its records keep the bodies: recoverable);
- one recording callback lost the same way;
- one attempt whose kept body is cut short (it cannot be recovered: a gap);
- one session CSS reports but kept no callback record for (its start and end reconciled from the session
  list: two gaps).
``truth`` is what CSS knows of each stream's latest session, which the stored state must equal after one run.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cssai.ops import events
from tests.fake_live import LiveState, Record, Session


@dataclass
class Day:
    start: int
    end: int
    truth: dict[str, tuple[int, int]] = field(default_factory=dict)  # stream -> (latest start, its end)
    lost: dict[str, int] = field(default_factory=dict)  # what was lost, by kind
    sessions: int = 0


def build(state: LiveState, deliver: Callable[[dict[str, Any]], None], day_start: int, *, streams: int = 300,
          key: str, seed: int = 25) -> Day:
    rnd = random.Random(seed)
    day = Day(day_start, day_start + 86_400)
    names = [f"room-{i:04d}" for i in range(streams)]
    lost_push = set(rnd.sample(names, 4))
    lost_stop = set(rnd.sample(sorted(set(names) - lost_push), 4))
    lost_record, cut_short, unrecorded = rnd.sample(sorted(set(names) - lost_push - lost_stop), 3)
    for index, name in enumerate(names):
        at = day_start + rnd.randrange(600, 20_000)
        for number in range(rnd.randint(1, 3)):
            begin, finish = at, at + rnd.randrange(300, 7_200)
            at = finish + rnd.randrange(120, 3_600)
            if finish >= day.end - 600:
                break
            sequence = str(10**18 + index * 10 + number)
            state.sessions.append(Session(name, begin, finish, stop_reason="client stopped"))
            day.sessions += 1
            day.truth[name] = (begin, finish)
            bodies = [_push(name, sequence, begin), _stop(name, sequence, finish)]
            if index % 3 == 0 or name == lost_record:
                bodies.append(_recording(name, begin, finish))
            for body in bodies:
                losing = {1: name in lost_push, 0: name in lost_stop, 100: name == lost_record}
                lost = losing[body["event_type"]]
                if name == unrecorded and number == 0:
                    day.lost["unrecorded"] = day.lost.get("unrecorded", 0) + 1
                    continue  # neither delivered nor kept by CSS
                signed = json.dumps(events.signed(body, key), separators=(",", ":"))
                if name == cut_short and body["event_type"] == 1 and number == 0:
                    state.records.append(Record(name, begin, 1, signed[:40], -1, "timeout"))
                    state.records.append(Record(name, begin, 1, signed, 0))  # its retry made it: stored
                    deliver(body)
                    day.lost["cut_short"] = 1
                    continue
                when = body.get("event_time") or body.get("end_time")
                for _ in range(3 if lost else 1):  # CSS's retries all failed, or the one attempt that landed
                    state.records.append(Record(name, when, body["event_type"], signed, -1 if lost else 0,
                                                "HTTP 502" if lost else '{"code":0}'))
                if lost:
                    day.lost[str(body["event_type"])] = day.lost.get(str(body["event_type"]), 0) + 1
                else:
                    deliver(body)
    return day


def _push(name: str, sequence: str, at: int) -> dict[str, Any]:
    return {"event_type": 1, "app": "push.example.com", "appid": 1250000000, "appname": "live", "stream_id": name,
            "channel_id": name, "sequence": sequence, "event_time": at, "node": "203.0.113.9",
            "user_ip": "198.51.100.4", "errcode": 0, "errmsg": "ok"}


def _stop(name: str, sequence: str, at: int) -> dict[str, Any]:
    return {"event_type": 0, "app": "push.example.com", "appid": 1250000000, "appname": "live", "stream_id": name,
            "channel_id": name, "sequence": sequence, "event_time": at, "node": "203.0.113.9",
            "user_ip": "198.51.100.4", "errcode": 1, "errmsg": "client stopped", "push_duration": "600000"}


def _recording(name: str, begin: int, finish: int) -> dict[str, Any]:
    return {"event_type": 100, "appid": 1250000000, "app": "push.example.com", "appname": "live", "stream_id": name,
            "channel_id": name, "file_id": f"f-{name}-{begin}", "file_format": "hls", "start_time": begin,
            "end_time": finish, "duration": finish - begin, "file_size": 1_000_000,
            "video_url": f"https://media.example.com/{name}/{begin}.m3u8"}
