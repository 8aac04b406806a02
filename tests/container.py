"""One warm "container" in its own process: imports the receiver once, then handles events.

``python -m tests.container`` reads one SCF event per line on stdin and writes one answer per
line on stdout (after ``ready``). The crash harness kills such processes with SIGKILL, as SCF
kills containers; their settings come from the environment like a deployed function's.
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    answers, sys.stdout = sys.stdout, sys.stderr  # the receiver's log lines go to stderr here
    import index

    print("ready", file=answers, flush=True)
    for line in sys.stdin:
        event = json.loads(line)
        answer = index.main_handler(event, {"request_id": "container", "time_limit_in_ms": 30_000})
        if "statusCode" not in answer:  # a timer event's answer: the jobs' summary
            answer = {"statusCode": 200, "body": json.dumps(answer)}
        print(json.dumps({"statusCode": answer["statusCode"], "body": answer["body"]}), file=answers, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
