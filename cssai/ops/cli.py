"""The operator's command line: ``python index.py [invoke] SAMPLE...``, ``serve``, ``sign``, ``send``,
``replay``, ``report``, ``doctor``, ``streams``, ``setup``.

Every ordinary mistake gets one line on stderr saying what was wrong and what to do, never a
traceback: exit 2 for a usage error (unknown command, bad option value, bad date), 1 for a failure
(a file that cannot be read, a refused or failed callback, a port in use, a bad setting).
"""

from __future__ import annotations

import argparse
import difflib
import errno
import json
import logging
import os
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, NoReturn

from cssai import logs, runtime
from cssai.ops import events
from cssai.settings import SettingsError

DEV_KEY = "local-dev-key-not-for-production"
DEV_TOKEN = "local-dev-token-not-for-production"  # noqa: S105 - announced, for local trials only
COMMANDS = ("invoke", "serve", "sign", "send", "replay", "report", "doctor", "streams", "setup", "forward",
            "reconcile")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
USAGE, FAILURE = 2, 1


class CliError(Exception):
    """One line for the operator, and the exit status."""

    def __init__(self, message: str, status: int = FAILURE) -> None:
        super().__init__(message)
        self.status = status


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


def _token(*, announce: bool = True) -> str:
    """The URL token to send: the first of CALLBACK_URL_TOKENS, else the announced dev token.

    Relay callbacks (314) are never signed, so a local run needs a token for them as CSS's tasks would.
    """
    configured = [t.strip() for t in os.environ.get("CALLBACK_URL_TOKENS", "").split(",") if t.strip()]
    if configured:
        return configured[0]
    os.environ["CALLBACK_URL_TOKENS"] = DEV_TOKEN
    if announce:
        print(f"CALLBACK_URL_TOKENS is not set: sending and accepting the dev token {DEV_TOKEN!r} in the URL "
              "(relay callbacks, 314, are never signed)", file=sys.stderr)
    return DEV_TOKEN


def _load(path: str) -> dict[str, Any]:
    """A callback from a JSON file, or a CliError that says what is wrong with it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CliError(f"{path}: is a folder, not a JSON file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise CliError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise CliError(f"{path}: not a JSON object (a callback is one object)")
    return body


def _files(root: Path) -> dict[Path, int]:
    if not root.exists():
        return {}
    # dot-files are the sink's own bookkeeping (temporary files, receipts of appended records)
    return {p: p.stat().st_mtime_ns for p in root.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)}


def _outcome(answer: dict[str, Any], fields: dict[str, Any]) -> str:
    """stored / duplicate / invalid / refused / failed, from the callback's own log line."""
    status = answer["statusCode"]
    outcome = fields.get("outcome") or {200: "stored", 422: "invalid"}.get(status, "failed")
    try:
        message = json.loads(answer["body"]).get("message")
    except (ValueError, AttributeError):
        message = None
    return f"{outcome} (HTTP {status}{': ' + message if message else ''})"


class _Listening:
    """While active: JSON log lines go to stderr, and the last callback's fields are kept."""

    def __enter__(self) -> logs.Outcomes:
        self.outcomes = logs.Outcomes()
        logs.ensure()
        logs.logger.addHandler(self.outcomes)
        self.level = logs.logger.level
        logs.logger.setLevel(min(self.level or logging.INFO, logging.INFO))
        logs.to_stderr(True)
        return self.outcomes

    def __exit__(self, *exc: object) -> None:
        logs.logger.removeHandler(self.outcomes)
        logs.logger.setLevel(self.level)
        logs.to_stderr(False)


def _current() -> runtime.Runtime:
    runtime.reset()
    try:
        return runtime.current()
    except SettingsError as exc:
        raise CliError(f"configuration error: {exc} (fix the environment variable and run again)") from None


def invoke(args: argparse.Namespace) -> int:
    from cssai.entry import main_handler

    key = _key(args.key)
    query = {} if args.shape == "direct" else {"token": _token()}
    current = _current()
    settings = current.settings
    uses_local = not (settings.cos_bucket and settings.cls_topic_id)
    root = settings.local_sink_dir
    failed = 0
    with _Listening() as outcomes:
        for sample in args.files:
            try:
                body = _load(sample)
            except CliError as exc:
                print(f"error: {exc}", file=sys.stderr)
                failed += 1
                continue
            event = events.wrap(events.signed(body, key), args.shape, base64_body=args.base64, query=query)
            before = _files(root) if uses_local else {}
            outcomes.last = {}
            answer = main_handler(event, {"request_id": f"cli-{Path(sample).stem}", "time_limit_in_ms": 30000})
            print(f"{sample}: {_outcome(answer, outcomes.last)}")
            if uses_local:
                after = _files(root)
                for path in sorted(p for p in after if before.get(p) != after[p]):
                    print(f"  wrote {path}")
            failed += answer["statusCode"] != 200
    if failed:
        print(f"{failed} of {len(args.files)} file(s) not stored", file=sys.stderr)
    return FAILURE if failed else 0


def serve(args: argparse.Namespace) -> int:
    from cssai.entry import main_handler
    from cssai.ops.serve import make_server

    configured = any(os.environ.get(n, "").strip() for n in ("CSS_CALLBACK_KEYS", "CALLBACK_URL_TOKENS"))
    if not configured:
        if not args.dev_key:
            raise CliError("no callback authentication is set, so every request would be refused (401): set "
                           "CSS_CALLBACK_KEYS or CALLBACK_URL_TOKENS, or pass --dev-key to accept the dev key "
                           f"{DEV_KEY!r} (local trials only)", USAGE)
        _key(None)
    _current()
    try:
        server = make_server(args.host, args.port, main_handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise CliError(f"port {args.port} is in use: stop what holds it, or choose another with --port") from None
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    host, port = server.server_address[:2]
    token = " (append ?token=<one of CALLBACK_URL_TOKENS>)" if os.environ.get("CALLBACK_URL_TOKENS") else ""
    print(f"listening on http://{host}:{port}/ : POST callbacks to http://{host}:{port}/callback{token} "
          "(Ctrl-C to stop)", file=sys.stderr, flush=True)
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
        raise CliError(f"send: {args.url!r} is not a URL: it must start with https:// (or http://)", USAGE)
    tokens_only = not args.key and not os.environ.get("CSS_CALLBACK_KEYS", "").strip() and \
        os.environ.get("CALLBACK_URL_TOKENS", "").strip()
    key = None if tokens_only else _key(args.key)
    if tokens_only:
        print("CSS_CALLBACK_KEYS is not set and CALLBACK_URL_TOKENS is: sending unsigned bodies (the URL's ?token= "
              "authenticates them)", file=sys.stderr)
    failed = 0
    for path in args.files:
        try:
            body = _load(path)
            payload = json.dumps(body if key is None else events.signed(body, key), ensure_ascii=False).encode()
        except CliError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            args.url, data=payload, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=args.timeout) as response:  # noqa: S310 - operator's URL
                status, text = response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode(errors="replace")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            status, text = 0, f"no answer: {reason} (is the URL right, and the receiver up?)"
        print(f"{path}: HTTP {status} {text}")
        failed += status != 200
    print(f"{len(args.files) - failed} of {len(args.files)} file(s) answered 200", file=sys.stderr)
    return FAILURE if failed else 0


def replay(args: argparse.Namespace) -> int:
    from cssai.ops import replay as replaying

    current = _current()
    filters = replaying.Filters(args.date, args.type, args.stream, args.event_id)
    progress = None if args.dry_run or (not sys.stderr.isatty() and not args.progress) else sys.stderr
    with _Listening():
        summary = replaying.run(current, args.source, filters, dry_run=args.dry_run, force=args.force,
                                progress=progress)
    if args.dry_run:
        print(f"{summary.seen} event(s): would store {summary.stored}, already stored {summary.duplicate}, "
              f"still invalid {summary.invalid}")
    else:
        print(f"{summary.seen} event(s): {summary.stored} stored, {summary.duplicate} already stored, "
              f"{summary.invalid} still invalid, {len(summary.failed)} failed")
    for line in summary.failed:
        print(f"  failed {line}")
    if summary.seen == 0:
        from cssai.ops.replay import SOURCES

        where = _where(current, SOURCES[args.source])
        dates = sorted({k.split("/")[-2] for k in current.executor.objects.list(SOURCES[args.source])
                        if k.count("/") >= 2})
        known = f"; dates there: {', '.join(dates[:10])}{' …' if len(dates) > 10 else ''}" if dates else \
            "; nothing is stored there"
        print(f"nothing matched under {where}{known}: check --source and the filters", file=sys.stderr)
        return FAILURE
    return FAILURE if summary.failed else 0


def report(args: argparse.Namespace) -> int:
    from cssai.ops import report as reporting

    if args.since and args.until and args.since > args.until:
        raise CliError(f"--since {args.since} is after --until {args.until}", USAGE)
    try:
        import matplotlib  # noqa: F401 - the chart needs it; it is not in the function package
    except ImportError:
        raise CliError("report needs matplotlib, which the function package leaves out: "
                       ".venv/bin/pip install -r requirements-ops.txt") from None
    current = _current()
    try:
        result = reporting.write(current, args.stream, args.since, args.until, Path(args.out), args.tz)
    except reporting.NothingToReportError as exc:
        known = reporting.known_streams(current.executor.objects)
        listed = (f"; streams stored: {', '.join(known[:20])}{' …' if len(known) > 20 else ''}" if known
                  else "; no stream is stored there")
        raise CliError(f"{exc} (looked under {_where(current, 'events/')}{listed})") from None
    except OSError as exc:
        raise CliError(f"cannot write the report to {args.out}: {exc.strerror or exc}") from None
    for path in result.files:
        print(f"wrote {path}")
    print(result.summary_line)
    return 0


def setup(args: argparse.Namespace) -> int:
    from cssai.ops import setup as creating

    result = creating.run()
    for step in result.steps:
        print("\n".join(step.lines()), file=sys.stderr if step.needs_attention else sys.stdout)
    created = sum(step.created for step in result.steps)
    if result.ok:
        print(f"{created} created" if created else "nothing to create: everything exists")
    if result.env:
        print("\n# .env lines for these resources:")
        for name, value in result.env.items():
            print(f"{name}={value}")
    return 0 if result.ok else FAILURE


def streams(args: argparse.Namespace) -> int:
    from cssai import streams as state

    current = _current()
    objects = current.executor.objects
    found = state.states(state.load(objects, args.stream))
    if not found:
        where = _where(current, "streams/" + (f"{args.stream}/" if args.stream else ""))
        raise CliError(f"no push or stop events stored under {where}"
                       + (f" for stream {args.stream!r}" if args.stream else "")
                       + ": point the CSS push and interruption callbacks at the receiver")
    shown = [s for s in found if s.live] if args.live else found
    if args.json:
        print(json.dumps([s.as_json() for s in shown], ensure_ascii=False, indent=2))
        return 0
    if not shown:
        print(f"no live stream ({len(found)} stream(s) known, all ended)")
        return 0
    print(f"{'stream':<28} {'state':<6} {'sequence':<22} {'since (UTC)':<20} {'ended (UTC)':<20} reason")
    for s in shown:
        made_up = s.reconciled and s.stop_reason != "reconciled"  # an end made up already says so as its reason
        print(f"{s.stream_id:<28} {'live' if s.live else 'ended':<6} {s.sequence:<22} {_utc(s.since):<20} "
              f"{_utc(s.ended):<20} {s.stop_reason or ''}{' (start reconciled with CSS)' if made_up else ''}")
    return 0


def _utc(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    from datetime import datetime, timezone

    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return str(seconds)


def _where(current: runtime.Runtime, prefix: str) -> str:
    """Where a command looked: the COS bucket and prefix, or the local folder."""
    settings = current.settings
    if settings.cos_bucket:
        return f"cos://{settings.cos_bucket}/{settings.cos_prefix}{prefix}"
    return str(Path(settings.local_sink_dir) / "cos" / prefix)


def doctor(args: argparse.Namespace) -> int:
    from cssai.ops import doctor as preflight

    checks = preflight.run(runtime.build, notify=args.notify)
    for check in checks:
        print("\n".join(check.lines()), file=sys.stderr if check.needs_attention else sys.stdout)
    failed = sum(not c.ok for c in checks)
    print(f"{len(checks) - failed} of {len(checks)} checks passed" + (": fix the ✗ lines above" if failed else ""),
          file=sys.stderr if failed else sys.stdout)
    return FAILURE if failed else 0


def _date(value: str) -> str:
    if value != "undated" and not (DATE.fullmatch(value) and _real_date(value)):
        raise argparse.ArgumentTypeError(f"{value!r} is not a date: use YYYY-MM-DD, e.g. 2025-07-10")
    return value


def _real_date(value: str) -> bool:
    from datetime import date

    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _event_type(value: str) -> str:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not an event_type: use a number such as 1, 0, 100, 317 or 349")
    return value


def _port(value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port: use a number from 1 to 65535 (0: any free one)")
    return int(value)


def _tz(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"{value!r} is not a time zone: use a name such as UTC or Asia/Shanghai") \
            from None
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"{self.prog}: error: {message}{self._suggestion(message)} (see {self.prog} --help)\n")

    def _suggestion(self, message: str) -> str:
        """``--lvie`` -> did you mean --live? (from every option of every command)."""
        unknown = re.findall(r"(--?[\w-]+)", message.partition("unrecognized arguments:")[2])
        options = {o for p in _ALL_PARSERS for o in p._option_string_actions}  # argparse keeps no public list
        hints = [close[0] for u in unknown if (close := difflib.get_close_matches(u.split("=")[0], options, n=1))]
        return f": did you mean {', '.join(hints)}?" if hints else ""


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a default only when there is one, and not twice."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False) or "default" in text:
            return text
        return super()._get_help_string(action) or text


_ALL_PARSERS: list[argparse.ArgumentParser] = []


def parser() -> argparse.ArgumentParser:
    fmt = _Help
    top = _Parser(prog="python index.py", description="CSS callback receiver: local trials and the operator's tools.",
                  epilog="python index.py FILE.json ... is short for python index.py invoke FILE.json ...",
                  formatter_class=fmt)
    sub = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        made = sub.add_parser(name, help=text, description=text, formatter_class=fmt)
        made.add_argument("--env-file", metavar="PATH",
                          help="settings file to read (default: .env, when it exists, for doctor, setup, streams, "
                               "replay, report and send); the environment wins")
        _ALL_PARSERS.append(made)
        return made

    p = command("invoke", "sign samples and run them through main_handler (the default command)")
    p.add_argument("files", nargs="+", help="callback JSON files, e.g. samples/349_smart_highlight.json")
    p.add_argument("--shape", choices=events.SHAPES, default="apigw", help="SCF trigger shape to wrap in")
    p.add_argument("--base64", action="store_true", help="base64-encode the body, as API Gateway may")
    p.add_argument("--key", help="callback key to sign with (default: first of CSS_CALLBACK_KEYS)")
    p.set_defaults(run=invoke)

    p = command("serve", "a local HTTP server in front of main_handler (Function URL events)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 in an SCF Web Function)")
    p.add_argument("--port", type=_port, default=9000, help="port (SCF Web Functions listen on 9000)")
    p.add_argument("--dev-key", action="store_true",
                   help=f"with no callback authentication set, accept the dev key {DEV_KEY!r} (local trials only)")
    p.set_defaults(run=serve)

    p = command("sign", "print a sample with a fresh t and sign, for curl")
    p.add_argument("file")
    p.add_argument("--key", help="callback key (default: first of CSS_CALLBACK_KEYS, else the dev key)")
    p.add_argument("--valid-for", type=int, default=600, help="seconds until t (CSS uses 600)")
    p.set_defaults(run=sign)

    p = command("send", "sign and POST samples to a URL; non-zero exit on any non-200")
    p.add_argument("url", help="the receiver's URL, with ?token=... when it uses URL tokens")
    p.add_argument("files", nargs="+")
    p.add_argument("--key", help="callback key (default: first of CSS_CALLBACK_KEYS, else the dev key)")
    p.add_argument("--timeout", type=float, default=25.0, help="seconds to wait for each answer")
    p.set_defaults(run=send)

    p = command("replay", "re-drive archived or dead-lettered events from the configured sink")
    p.add_argument("--source", choices=("archive", "deadletter"), default="archive",
                   help="archive: every verified event (events/); deadletter: the ones that failed validation")
    p.add_argument("--date", type=_date, help="the event's own date, YYYY-MM-DD (or 'undated')")
    p.add_argument("--type", type=_event_type, help="event_type, e.g. 349")
    p.add_argument("--stream", help="stream_id")
    p.add_argument("--event-id", help="an event id or a prefix of one")
    p.add_argument("--dry-run", action="store_true", help="print each plan; write nothing")
    p.add_argument("--force", action="store_true", help="store again even if already stored (CLS duplicates!)")
    p.add_argument("--progress", action="store_true", help="show the progress bar even when not on a terminal")
    p.set_defaults(run=replay)

    p = command("report", "an HTML page and a PNG chart of one stream, from the archive")
    p.add_argument("--stream", required=True, help="stream_id")
    p.add_argument("--since", type=_date, help="first event date, YYYY-MM-DD (default: the first archived)")
    p.add_argument("--until", type=_date, help="last event date, YYYY-MM-DD (default: the last archived)")
    p.add_argument("--tz", type=_tz, default="UTC", help="time zone of the page and chart, e.g. Asia/Shanghai")
    p.add_argument("--out", default="reports", help="output folder")
    p.set_defaults(run=report)

    p = command("streams", "which streams are live, from the stored push and stop callbacks")
    p.add_argument("--stream", help="only this stream_id")
    p.add_argument("--live", action="store_true", help="only the streams that are live")
    p.add_argument("--json", action="store_true",
                   help="a JSON list: stream_id, live, sequence, since, ended (unix seconds), stop_reason, sessions")
    p.set_defaults(run=streams)

    p = command("setup", "create what a deploy needs and is missing: the COS bucket (never versioned), the CLS "
                         "logset, topic and index; never deletes or changes what exists")
    p.set_defaults(run=setup)

    p = command("doctor", "preflight: settings, authentication, COS (create-if-absent), CLS, notifications")
    p.add_argument("--notify", action="store_true", help="also post a test message to NOTIFY_URL")
    p.set_defaults(run=doctor)

    from cssai.jobs import commands  # the scheduled jobs' own commands: forward

    commands.register(command)
    return top


def main(argv: list[str]) -> int:
    top = parser()
    if not argv:
        top.print_help(sys.stderr)
        return USAGE
    if argv[0] not in COMMANDS and not argv[0].startswith("-"):
        if not _looks_like_a_file(argv[0]):
            close = difflib.get_close_matches(argv[0], COMMANDS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            print(f"python index.py: unknown command {argv[0]!r}: {hint}commands: {', '.join(COMMANDS)} "
                  "(or give callback JSON files)", file=sys.stderr)
            return USAGE
        argv = ["invoke", *argv]  # `python index.py samples/x.json` stays the short form
    args = top.parse_args(argv)
    if args.command is None:
        top.print_help(sys.stderr)
        return USAGE
    from cssai.jobs.commands import CommandError

    try:
        _read_env_file(args)
        return int(args.run(args))
    except (CliError, CommandError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.status
    except SettingsError as exc:
        print(f"error: {exc} (a bad setting)", file=sys.stderr)
        return FAILURE
    except KeyboardInterrupt:
        return 130


# the deploy's settings, by default
READS_ENV_FILE = ("doctor", "setup", "streams", "replay", "report", "send", "forward", "reconcile")


def _read_env_file(args: argparse.Namespace) -> None:
    """``.env`` (or --env-file) for the operator's commands; local trials (invoke, serve, sign) only on request."""
    from cssai.ops import envfile

    named = getattr(args, "env_file", None)
    if args.command not in READS_ENV_FILE and not named:
        return
    try:
        loaded = envfile.load(named)
    except envfile.EnvFileError as exc:
        raise CliError(str(exc)) from None
    if loaded is not None:
        path, added = loaded
        print(f"read {path} ({added} setting(s); the environment wins over the file)", file=sys.stderr)


def _looks_like_a_file(arg: str) -> bool:
    return Path(arg).exists() or arg.endswith(".json") or os.sep in arg
