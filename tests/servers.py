"""The local COS and CLS servers in a process of their own, for benchmarks and the operator's trials.

``python -m tests.servers [--latency SECONDS]`` prints one JSON line with the servers' URLs and
credentials, then serves until its standard input closes. Running them apart from the receiver
keeps their CPU out of the receiver's figures.
"""

from __future__ import annotations

import argparse
import json
import sys

from tests.fake_cls import ClsServer
from tests.fake_cos import CosServer
from tests.fake_downstream import Downstream

SECRET_ID, SECRET_KEY = "AKIDlocalservers", "local-servers-secret"
BUCKET, TOPIC = "bench-1250000000", "bench-topic"
FORWARD_TO = "BENCH_FORWARD_RULES"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.servers", description=__doc__)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
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
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
