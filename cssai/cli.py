"""The operator's command line: ``python index.py [invoke] SAMPLE...``, ``serve``, ``sign``, ``send``, ``replay``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cssai import events, runtime

DEV_KEY = "local-dev-key-not-for-production"
COMMANDS = ("invoke", "serve", "sign", "send", "replay", "report", "doctor")


def _key(explicit: str | None, *, announce: bool = True) -> str:
    """The key to sign with: --key, else the first of CSS_CALLBACK_KEYS, else the announced dev key."""
    if explicit:
        return explicit
    configured = [k.strip() for k in os.environ.get("CSS_CALLBACK_KEYS", "").split(",") if k.strip()]
    if configured:
        return configured[0]
    os.environ["CSS_CALLBACK_KEYS"] = DEV_KEY
    if announce:
        print(f"CSS_CALLBACK_KEYS is not set: signing and verifying with the dev key {DEV_KEY!r}", file=sys.stderr)
    return DEV_KEY


def _load(path: str) -> dict[str, Any]:
    body = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(body, dict):
        raise SystemExit(f"{path}: not a JSON object")
    return body


def _files(root: Path) -> dict[Path, int]:
    if not root.exists():
        return {}
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")}


def invoke(args: argparse.Namespace) -> int:
    import index

    key = _key(args.key)
    runtime.reset()
    settings = runtime.current().settings
    uses_local = not (settings.cos_bucket and settings.cls_topic_id)
    root = settings.local_sink_dir
    status = 0
    for sample in args.files:
        event = events.wrap(events.signed(_load(sample), key), args.shape, base64_body=args.base64)
        before = _files(root) if uses_local else {}
        answer = index.main_handler(event, {"request_id": f"cli-{Path(sample).stem}", "time_limit_in_ms": 30000})
        print(f"{sample}: HTTP {answer['statusCode']} {answer['body']}")
        if uses_local:
            after = _files(root)
            for path in sorted(p for p in after if before.get(p) != after[p]):
                print(f"  wrote {path}")
        status = status or (0 if answer["statusCode"] == 200 else 1)
    return status


def serve(args: argparse.Namespace) -> int:
    import index
    from cssai.serve import make_server

    if not os.environ.get("CSS_CALLBACK_KEYS", "").strip() and args.dev_key:
        _key(None)
    runtime.reset()
    server = make_server(args.host, args.port, index.main_handler)
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}/ (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def sign(args: argparse.Namespace) -> int:
    body = events.signed(_load(args.file), _key(args.key, announce=not args.key), valid_for=args.valid_for)
    print(json.dumps(body, ensure_ascii=False))
    return 0


def send(args: argparse.Namespace) -> int:
    if not args.url.startswith(("http://", "https://")):
        raise SystemExit("send: the URL must start with http:// or https://")
    key = _key(args.key)
    failed = 0
    for path in args.files:
        payload = json.dumps(events.signed(_load(path), key), ensure_ascii=False).encode()
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            args.url, data=payload, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=args.timeout) as response:  # noqa: S310 - operator's URL
                status, text = response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode(errors="replace")
        except (urllib.error.URLError, OSError) as exc:
            status, text = 0, f"no answer: {exc}"
        print(f"{path}: HTTP {status} {text}")
        failed += status != 200
    return 1 if failed else 0


def replay(args: argparse.Namespace) -> int:
    from cssai import replay as replaying

    runtime.reset()
    current = runtime.current()
    filters = replaying.Filters(args.date, args.type, args.stream, args.event_id)
    progress = None if args.dry_run or (not sys.stderr.isatty() and not args.progress) else sys.stderr
    summary = replaying.run(current, args.source, filters, dry_run=args.dry_run, force=args.force, progress=progress)
    print(f"{summary.seen} event(s): {summary.stored} stored, {summary.duplicate} already stored, "
          f"{summary.invalid} still invalid, {len(summary.failed)} failed")
    for line in summary.failed:
        print(f"  failed {line}")
    return 1 if summary.failed else 0


def report(args: argparse.Namespace) -> int:
    from cssai import report as reporting

    runtime.reset()
    html_path, png_path = reporting.write(runtime.current(), args.stream, args.since, args.until, Path(args.out))
    print(f"wrote {html_path}\nwrote {png_path}")
    return 0


def doctor(args: argparse.Namespace) -> int:
    from cssai import doctor as preflight

    checks = preflight.run(runtime.build, notify=args.notify)
    for check in checks:
        print("\n".join(check.lines()))
    failed = sum(not c.ok for c in checks)
    print(f"{len(checks) - failed} of {len(checks)} checks passed" + (": fix the ✗ lines above" if failed else ""))
    return 1 if failed else 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python index.py", description="CSS AI callback receiver: local tools.")
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("invoke", help="sign samples and run them through main_handler (the default command)")
    p.add_argument("files", nargs="+", help="callback JSON files, e.g. samples/349_smart_highlight.json")
    p.add_argument("--shape", choices=events.SHAPES, default="apigw", help="SCF trigger shape to wrap in")
    p.add_argument("--base64", action="store_true", help="base64-encode the body, as API Gateway may")
    p.add_argument("--key", help="callback key to sign with (default: first of CSS_CALLBACK_KEYS)")
    p.set_defaults(run=invoke)

    p = sub.add_parser("serve", help="a local HTTP server in front of main_handler (Function URL events)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 in an SCF Web Function)")
    p.add_argument("--port", type=int, default=9000, help="port (SCF Web Functions listen on 9000)")
    p.add_argument("--dev-key", action="store_true", help="with no CSS_CALLBACK_KEYS, accept the announced dev key")
    p.set_defaults(run=serve)

    p = sub.add_parser("sign", help="print a sample with a fresh t and sign, for curl")
    p.add_argument("file")
    p.add_argument("--key", help="callback key (default: first of CSS_CALLBACK_KEYS, else the dev key)")
    p.add_argument("--valid-for", type=int, default=600, help="seconds until t (CSS uses 600)")
    p.set_defaults(run=sign)

    p = sub.add_parser("send", help="sign and POST samples to a URL; non-zero exit on any non-200")
    p.add_argument("url")
    p.add_argument("files", nargs="+")
    p.add_argument("--key", help="callback key (default: first of CSS_CALLBACK_KEYS, else the dev key)")
    p.add_argument("--timeout", type=float, default=25.0)
    p.set_defaults(run=send)

    p = sub.add_parser("replay", help="re-drive archived or dead-lettered events from the configured sink")
    p.add_argument("--source", choices=("archive", "deadletter"), default="archive")
    p.add_argument("--date", help="YYYY-MM-DD (the event's own date)")
    p.add_argument("--type", help="event_type, e.g. 349")
    p.add_argument("--stream", help="stream_id")
    p.add_argument("--event-id", help="an event id or a prefix of one")
    p.add_argument("--dry-run", action="store_true", help="print each plan; write nothing")
    p.add_argument("--force", action="store_true", help="store again even if already stored (CLS duplicates!)")
    p.add_argument("--progress", action="store_true", help="show the progress bar even when not on a terminal")
    p.set_defaults(run=replay)

    p = sub.add_parser("report", help="an HTML page and a PNG chart of one stream, from the archive")
    p.add_argument("--stream", required=True, help="stream_id")
    p.add_argument("--since", help="first event date, YYYY-MM-DD")
    p.add_argument("--until", help="last event date, YYYY-MM-DD")
    p.add_argument("--out", default="report", help="output folder")
    p.set_defaults(run=report)

    p = sub.add_parser("doctor", help="preflight: settings, authentication, COS (create-if-absent), CLS, notifications")
    p.add_argument("--notify", action="store_true", help="also post a test message to NOTIFY_URL")
    p.set_defaults(run=doctor)
    return top


def main(argv: list[str]) -> int:
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        argv = ["invoke", *argv]  # `python index.py samples/x.json` stays the short form
    args = parser().parse_args(argv)
    return int(args.run(args))
