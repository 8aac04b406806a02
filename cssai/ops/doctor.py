"""``python index.py doctor``: a preflight of the function's settings against the real services.

Run it with the function's settings and keys that have the role's rights, before pointing CSS at
the function. One line per check, ✓ or ✗ with the fix; the exit status is 0 only when every check
passes. It writes a probe object under ``doctor/`` (twice, to prove that create-if-absent holds:
the whole idempotency design rests on COS refusing the second put) and one CLS record of kind
``doctor``. It prints no secret: messages name settings, keys and statuses, never their values.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from cssai.runtime import Runtime
from cssai.settings import Settings, SettingsError, load
from cssai.sinks import SinkError
from cssai.writes import PutObject, record

OK, FAIL, WARN = "✓", "✗", "!"
MIN_KEY_LENGTH = 16  # a captured (t, sign) pair lets anyone search for a short key offline: md5 is fast


@dataclass(frozen=True)
class Check:
    """One line of doctor (and setup): passed, failed (✗, with the fix), or passed with a warning (!)."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False

    def lines(self) -> list[str]:
        mark = FAIL if not self.ok else WARN if self.warning else OK
        out = [f"{mark} {self.name}: {self.detail}"]
        if (not self.ok or self.warning) and self.fix:
            out.append(f"    fix: {self.fix}")
        return out

    @property
    def needs_attention(self) -> bool:
        """Failures and warnings go to stderr: an operator's script sees them apart from the passes."""
        return not self.ok or self.warning


def run(build: Callable[[Settings], Runtime], *, notify: bool = False) -> list[Check]:
    """Every check, in order; later ones are skipped when the settings cannot be read."""
    try:
        settings = load()
    except SettingsError as exc:
        return [Check("settings", False, str(exc), f"set {exc.variable} correctly (see the README's settings table)")]
    checks = [Check("settings", True, "every setting is valid"), _auth(settings)]
    runtime = build(settings)
    try:
        checks += _objects(runtime) if settings.cos_bucket else [_local(runtime)]
        unset = Check("CLS", True, "not configured: records go to the local sink (set CLS_TOPIC_ID in the cloud)")
        checks.append(_records(runtime) if settings.cls_topic_id else unset)
        if notify:
            checks.append(_notify(runtime))
        from cssai.ops import templates  # it reads CSS's templates through the live SDK: only when doctor runs

        checks += templates.check(settings)
    finally:
        runtime.executor.pool.shutdown(wait=False)
    return checks


def _auth(settings: Settings) -> Check:
    keys, tokens = len(settings.callback_keys), len(settings.url_tokens)
    if not keys and not tokens:
        return Check("callback authentication", False, "neither CSS_CALLBACK_KEYS nor CALLBACK_URL_TOKENS is set: "
                     "every callback would be refused (401)",
                     "set CSS_CALLBACK_KEYS to the CSS console's callback key, or CALLBACK_URL_TOKENS and end the "
                     "callback URL with ?token=<one of them>")
    parts = [f"{keys} callback key(s)" if keys else "", f"{tokens} URL token(s)" if tokens else ""]
    note = "" if keys else " (CSS must call the URL with ?token=...; direct invocations are refused)"
    short = [i + 1 for i, key in enumerate(settings.callback_keys) if len(key) < MIN_KEY_LENGTH]
    if short:
        which = ", ".join(f"#{i}" for i in short)  # the position, never the key
        return Check("callback authentication", True,
                     f"callback key {which} of CSS_CALLBACK_KEYS is shorter than {MIN_KEY_LENGTH} characters: anyone "
                     "who sees one signed callback can find it offline (sign = md5(key + t))",
                     "set a long random key in the CSS console's callback template (e.g. python -c 'import secrets; "
                     "print(secrets.token_hex(16))') and add it to CSS_CALLBACK_KEYS", warning=True)
    return Check("callback authentication", True, " and ".join(p for p in parts if p) + note)


def _objects(runtime: Runtime) -> list[Check]:
    """Put, get and head a probe, prove create-if-absent, and report the bucket's versioning."""
    cos = runtime.executor.objects
    settings = runtime.settings
    where = f"bucket {settings.cos_bucket} ({settings.cos_region}), prefix {settings.cos_prefix or '(none)'}"
    key = f"doctor/{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}.json"
    probe = PutObject(key, json.dumps({"doctor": "probe", "at": time.time()}).encode())
    fix_access = ("check TENCENTCLOUD_SECRETID/SECRETKEY, the bucket name (name-appid) and region, and that "
                  "the role has deploy/cam-policy.json's cos:PutObject/GetObject/HeadObject on the prefix")
    try:
        cos.put(probe, "doctor", if_absent=True)
        same = cos.get(key) == probe.body
        seen = cos.head(key)  # type: ignore[attr-defined]
    except SinkError as exc:
        return [Check("COS", False, f"{where}: {exc}", fix_access)]
    if not (same and seen):
        return [Check("COS", False, f"{where}: the probe {key} did not read back", fix_access)]
    checks = [Check("COS", True, f"{where}: put, get and head allowed")]
    try:
        status = cos.versioning() or "never enabled"  # type: ignore[attr-defined]
    except SinkError as exc:
        status = f"unknown ({exc}; the operator policy grants cos:GetBucketVersioning)"
    try:
        overwritten = cos.put(probe, "doctor", if_absent=True)
    except SinkError as exc:
        checks.append(Check("create-if-absent", False, f"the second put failed: {exc}", fix_access))
        return checks
    if overwritten:
        checks.append(Check(
            "create-if-absent", False,
            f"COS accepted a second put of {key} with x-cos-forbid-overwrite (versioning: {status}). Redeliveries "
            "would write objects again and claims could not exclude each other, so CLS records could be duplicated",
            "use a bucket that has never had versioning enabled (COS ignores x-cos-forbid-overwrite once it has)"))
    else:
        checks.append(Check("create-if-absent", True, f"a second put was refused (409); versioning: {status}"))
    try:
        cos.delete(key)  # type: ignore[attr-defined]
    except SinkError:
        checks.append(Check("probe cleanup", True, f"left {key} (no cos:DeleteObject on doctor/*: harmless)"))
    return checks


def _local(runtime: Runtime) -> Check:
    objects = runtime.executor.objects
    key = f"doctor/{secrets.token_hex(4)}.json"
    try:
        first = objects.put(PutObject(key, b"{}"), "doctor", if_absent=True)
        second = objects.put(PutObject(key, b"{}"), "doctor", if_absent=True)
    except SinkError as exc:
        return Check("local sink", False, str(exc), "make LOCAL_SINK_DIR a writable folder")
    ok = first and not second
    return Check("local sink", ok, f"writing under {runtime.settings.local_sink_dir} (COS_BUCKET is not set: "
                 "the embedded default, not for SCF, whose disk does not last)",
                 "" if ok else "the folder does not refuse a second create: use a local file system")


def _records(runtime: Runtime) -> Check:
    settings = runtime.settings
    logs = runtime.executor.logs
    probe = record(int(time.time() * 1000), kind="doctor", note="preflight record from python index.py doctor")
    try:
        logs.upload([probe], {"event_id": f"doctor-{secrets.token_hex(4)}", "event_type": "doctor"})
    except SinkError as exc:
        return Check("CLS", False, f"topic {settings.cls_topic_id} ({settings.cls_region}): {exc}",
                     "check CLS_TOPIC_ID and CLS_REGION, and that the role may cls:UploadLog "
                     "(deploy/cam-policy.json)")
    return Check("CLS", True, f"topic {settings.cls_topic_id} ({settings.cls_region}) accepted a record of kind doctor")


def _notify(runtime: Runtime) -> Check:
    settings = runtime.settings
    if runtime.notifier is None:
        return Check("notifications", False, "--notify asked for a test message but NOTIFY_URL is not set",
                     "set NOTIFY_URL (and NOTIFY_FORMAT) or leave out --notify")
    from cssai.notify import Message

    message = Message("highlight", "doctor", "", int(time.time() * 1000), "Test message from the CSS callback "
                      "receiver's doctor", ("If you read this, notifications reach you.",))
    result = runtime.notifier.post(message, None, time.monotonic() + settings.notify_timeout_seconds + 1)
    return Check("notifications", result.startswith("posted"), f"{settings.notify_format} webhook: {result}",
                 "check NOTIFY_URL (and NOTIFY_DINGTALK_SECRET for a signed DingTalk robot)")
