"""The local COS and CLS servers in a process of their own, for benchmarks and the operator's trials.

``python -m tests.servers [--latency SECONDS] [--live-streams N]`` prints one JSON line with the servers' URLs
and credentials, then serves until its standard input closes. ``--live-streams`` adds CSS's live API
(tests/fake_live.py) holding N streams that each pushed one session in the last two hours, whose push and
stop callbacks CSS kept as undelivered (a reconcile run recovers them; the next finds them stored). Running
them apart from the receiver keeps their CPU out of the receiver's figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from tests.fake_cls import ClsServer
from tests.fake_cos import CosServer
from tests.fake_downstream import Downstream
from tests.fake_live import LiveServer, Record, Session

SECRET_ID, SECRET_KEY = "AKIDlocalservers", "local-servers-secret"
BUCKET, TOPIC = "bench-1250000000", "bench-topic"
FORWARD_TO = "BENCH_FORWARD_RULES"
LIVE_KEY = "bench-live-callback-key"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.servers", description=__doc__)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--live-streams", type=int, default=0, help="also CSS's live API, with this many streams")
    args = parser.parse_args(argv)
    cos = CosServer(SECRET_ID, SECRET_KEY).start()
    cls = ClsServer(SECRET_ID, SECRET_KEY).start()
    downstream = Downstream().start()  # an operator's backend, for forwarding (accepts what it is sent)
    cos.latency = cls.latency = downstream.latency = args.latency
    env = {
        "COS_BUCKET": BUCKET, "COS_REGION": "ap-guangzhou", "COS_ENDPOINT_URL": cos.url,
        "CLS_TOPIC_ID": TOPIC, "CLS_REGION": "ap-guangzhou", "CLS_ENDPOINT_URL": cls.url,
        "TENCENTCLOUD_SECRETID": SECRET_ID, "TENCENTCLOUD_SECRETKEY": SECRET_KEY,
        FORWARD_TO: f"*={downstream.url}/css",  # not a setting: FORWARD_RULES for a run that forwards
    }
    live = _live(args.live_streams, args.latency) if args.live_streams else None
    if live is not None:
        env["LIVE_ENDPOINT_URL"] = live.url
    print(json.dumps(env), flush=True)
    for line in sys.stdin:  # "counts" asks for the request counts so far, "latency S" sets it; EOF stops
        command = line.split()
        if command[:1] == ["counts"]:
            with cos.lock, cls.lock, downstream.lock:
                print(json.dumps({"cos": len(cos.log), "cls": len(cls.log), "forwarded": len(downstream.received)}),
                      flush=True)
        elif command[:1] == ["latency"] and len(command) == 2:
            cos.latency = cls.latency = downstream.latency = float(command[1])
            print(json.dumps({"latency": cos.latency}), flush=True)
    cos.stop()
    cls.stop()
    downstream.stop()
    if live is not None:
        live.stop()
    return 0


def _live(streams: int, latency: float) -> LiveServer:
    from cssai.ops import events

    live = LiveServer(SECRET_ID, SECRET_KEY, per_second=20)
    live.latency = latency
    now = int(time.time())
    for i in range(streams):
        name, begin = f"bench-{i:04d}", now - 6000 + i * 10
        live.state.sessions.append(Session(name, begin, begin + 600))
        for event_type, at in ((1, begin), (0, begin + 600)):
            body = {"event_type": event_type, "stream_id": name, "channel_id": name, "sequence": str(10 + i),
                    "event_time": at, "app": "push.example.com", "appname": "live", "errcode": 0}
            signed = json.dumps(events.signed(body, LIVE_KEY), separators=(",", ":"))
            live.state.records.append(Record(name, at, event_type, signed, -1, "HTTP 502"))
    return live.start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
