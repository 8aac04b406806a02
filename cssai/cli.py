"""``python index.py SAMPLE.json``: sign a sample, run it through main_handler, show what was written."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from cssai import events, runtime

DEV_KEY = "local-dev-key-not-for-production"


def _files(root: Path) -> dict[Path, int]:
    if not root.exists():
        return {}
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")}


def invoke(args: argparse.Namespace) -> int:
    import index

    keys = os.environ.get("CSS_CALLBACK_KEYS", "")
    if not keys.strip():
        os.environ["CSS_CALLBACK_KEYS"] = DEV_KEY
        print(f"CSS_CALLBACK_KEYS is not set: signing and verifying with the dev key {DEV_KEY!r}", file=sys.stderr)
    key = os.environ["CSS_CALLBACK_KEYS"].split(",")[0].strip()
    runtime.reset()
    settings = runtime.current().settings
    uses_local = not (settings.cos_bucket and settings.cls_topic_id)
    root = settings.local_sink_dir
    status = 0
    for sample in args.files:
        body = json.loads(Path(sample).read_text(encoding="utf-8"))
        event = events.wrap(events.signed(body, key), args.shape, base64_body=args.base64)
        before = _files(root) if uses_local else {}
        answer = index.main_handler(event, {"request_id": f"cli-{Path(sample).stem}", "time_limit_in_ms": 30000})
        print(f"{sample}: HTTP {answer['statusCode']} {answer['body']}")
        if uses_local:
            after = _files(root)
            for path in sorted(p for p in after if before.get(p) != after[p]):
                print(f"  wrote {path}")
        status = status or (0 if answer["statusCode"] == 200 else 1)
    return status


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python index.py", description=__doc__)
    parser.add_argument("files", nargs="+", help="callback JSON files, e.g. samples/349_smart_highlight.json")
    parser.add_argument("--shape", choices=events.SHAPES, default="apigw", help="SCF trigger shape to wrap in")
    parser.add_argument("--base64", action="store_true", help="base64-encode the body, as API Gateway may")
    args = parser.parse_args(argv)
    return invoke(args)
