"""The receiver's CPU per request with the SDKs' own transport (requests) and with cssai/sinks/transport.py,
side by side in one run, against COS and CLS servers in another process (``tests/servers.py``).

``python -m bench.transport [--runs N] [--rtt MS]``: the same signed requests, sent both ways, the CPU
(``time.process_time``) of this process only; medians (min–max) per request, µs, and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import requests

from bench.memory import running_servers


def cpu_per_call(call: Callable[[], object], count: int) -> float:
    call()  # warm: a connection, the first import of anything lazy
    started = time.process_time()
    for _ in range(count):
        call()
    return (time.process_time() - started) / count * 1e6


def cos_calls(env: dict[str, str], ours: bool) -> Callable[[], object]:
    from qcloud_cos import CosConfig, CosS3Client

    from cssai.sinks.transport import Connections, CosSession

    url = urlsplit(env["COS_ENDPOINT_URL"])
    config = CosConfig(Region=env["COS_REGION"], SecretId=env["TENCENTCLOUD_SECRETID"],
                       SecretKey=env["TENCENTCLOUD_SECRETKEY"], Scheme=url.scheme, IP=url.hostname, Port=url.port)
    session = CosSession(Connections(5.0)) if ours else requests.Session()
    session.trust_env = False  # as the receiver's earlier session: no proxy scan of the environment
    client = CosS3Client(config, retry=0, session=session)
    counter = iter(range(10**9))
    return lambda: client.put_object(Bucket=env["COS_BUCKET"], Key=f"bench/transport/{ours}/{next(counter)}",
                                     Body=b'{"a":1}', ContentType="application/json")


def cls_calls(env: dict[str, str], ours: bool) -> Callable[[], object]:
    from tencentcloud.common.common_client import CommonClient
    from tencentcloud.common.credential import Credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile

    from cssai.sinks import transport
    from cssai.sinks.cls import encode
    from cssai.writes import record

    url = urlsplit(env["CLS_ENDPOINT_URL"])
    profile = ClientProfile(httpProfile=HttpProfile(protocol=url.scheme, endpoint=url.netloc, keepAlive=True))
    client = CommonClient("cls", "2020-10-16", Credential(env["TENCENTCLOUD_SECRETID"],
                                                          env["TENCENTCLOUD_SECRETKEY"]), env["CLS_REGION"], profile)
    if ours:
        transport.use_for(client, transport.Connections(5.0))
    body = encode([record(1_752_130_787_000, kind="bench", stream_id="s", text="x" * 100)] * 3, {"event_id": "e"})
    return lambda: client.call_octet_stream("UploadLog", {"X-CLS-TopicId": env["CLS_TOPIC_ID"]}, body)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.transport", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rtt", type=float, default=0.0, help="ms each request waits at the server")
    parser.add_argument("--count", type=int, default=50, help="requests per run")
    args = parser.parse_args(argv)
    with running_servers(args.rtt / 1000) as env:
        os.environ.update(env)
        print(f"CPU of this process per request, µs, medians (min–max) of {args.runs} runs of {args.count}, "
              f"server latency {args.rtt:g} ms\n")
        print("| request | SDK's transport (requests) | cssai/sinks/transport.py | ratio |")
        print("|---|---|---|---|")
        for name, make in (("COS PutObject", cos_calls), ("CLS UploadLog (3 records)", cls_calls)):
            theirs_call, ours_call = make(env, False), make(env, True)
            theirs, ours = [], []
            for _ in range(args.runs):  # interleaved: the machine's noise hits both alike
                theirs.append(cpu_per_call(theirs_call, args.count))
                ours.append(cpu_per_call(ours_call, args.count))
            t, o = statistics.median(theirs), statistics.median(ours)
            spread = f"({min(theirs):.0f}–{max(theirs):.0f})", f"({min(ours):.0f}–{max(ours):.0f})"
            print(f"| {name} | {t:.0f} {spread[0]} | {o:.0f} {spread[1]} | {o / t:.2f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
