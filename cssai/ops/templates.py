"""``doctor``'s template check: do CSS's callback templates point at this function, the way it authenticates?

Reads DescribeLiveCallbackRules (which template each push domain uses), DescribeLiveCallbackTemplates (the
URLs and ``CallbackKey`` of each) and DescribeLiveDomains (push domains, ``DomainType`` 0) through the same
paced client as the reconcile job (cssai/jobs/live_api.py). Every URL a template sets must start with
``FUNCTION_URL`` (when set) and carry ``?token=`` one of ``CALLBACK_URL_TOKENS`` (when set); its
``CallbackKey`` must be one of ``CSS_CALLBACK_KEYS`` (when set); a push domain bound to no template sends no
callback at all. Messages name domains, templates and fields, never a key or a token.
"""

from __future__ import annotations

import hmac
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cssai.credentials import current
from cssai.ops.doctor import Check
from cssai.settings import Settings

URL_FIELDS = ("StreamBeginNotifyUrl", "StreamEndNotifyUrl", "RecordNotifyUrl", "SnapshotNotifyUrl",
              "PornCensorshipNotifyUrl", "PushExceptionNotifyUrl", "AudioAuditNotifyUrl", "RecordExceptionNotifyUrl",
              "StreamMixNotifyUrl")
MAX_LISTED = 10
CALLS = 50


def check(settings: Settings) -> list[Check]:
    if not current().secret_id and not settings.live_endpoint_url:
        return [Check("CSS callback templates", True, "not checked: no TENCENTCLOUD_SECRETID (with keys that may "
                      "read live callback rules, templates and domains, doctor compares them with this function)")]
    from cssai.jobs.live_api import LiveApi, LiveApiError, OutOfCallsError, listed

    api = LiveApi(settings, CALLS, time.monotonic() + 60)
    try:
        rules = listed("DescribeLiveCallbackRules", api.call("DescribeLiveCallbackRules", {}), "Rules")
        templates = listed("DescribeLiveCallbackTemplates", api.call("DescribeLiveCallbackTemplates", {}), "Templates")
        domains = _push_domains(api)
    except (LiveApiError, OutOfCallsError) as exc:
        return [Check("CSS callback templates", False, str(exc),
                      "check the network to the live API (LIVE_ENDPOINT_URL, if set), and that these keys have "
                      "deploy/cam-policy-operator.json's live:DescribeLiveCallbackRules, "
                      "DescribeLiveCallbackTemplates and DescribeLiveDomains")]
    by_id = {t.get("TemplateId"): t for t in templates if isinstance(t, dict)}
    used = [(r.get("DomainName", ""), by_id.get(r.get("TemplateId"))) for r in rules if isinstance(r, dict)]
    return [_urls(settings, used), _keys(settings, used), _unbound(domains, rules)]


def _push_domains(api: Any) -> list[str]:
    found = api.pages("DescribeLiveDomains", {"DomainType": 0}, "DomainList")
    return sorted({d["Name"] for d in found if isinstance(d.get("Name"), str)})


def _urls(settings: Settings, used: list[tuple[str, dict[str, Any] | None]]) -> Check:
    problems: list[str] = []
    checked = 0
    for domain, template in used:
        if template is None:
            problems.append(f"{domain}: its rule names a template that does not exist")
            continue
        for name in URL_FIELDS:
            url = template.get(name)
            if not isinstance(url, str) or not url:
                continue
            checked += 1
            problem = _url_problem(url, settings)
            if problem:
                problems.append(f"{domain} (template {template.get('TemplateId')}) {name}: {problem}")
    if problems:
        return Check("CSS callback URLs", False, f"{len(problems)} problem(s): " + "; ".join(problems[:MAX_LISTED]),
                     "set every URL of the domain's callback template to FUNCTION_URL?token=<one of "
                     "CALLBACK_URL_TOKENS> in the CSS console (Callback templates)")
    where = f"at {settings.function_url}" if settings.function_url else "(FUNCTION_URL not set: targets unchecked)"
    return Check("CSS callback URLs", True, f"{checked} URL(s) in {len(used)} rule(s) point {where}"
                 + (" with a token" if settings.url_tokens else ""))


def _url_problem(url: str, settings: Settings) -> str:
    parts = urlsplit(url)
    if settings.function_url:
        target = urlsplit(settings.function_url)
        if (parts.scheme, parts.netloc.lower(), parts.path.rstrip("/")) != (
                target.scheme, target.netloc.lower(), target.path.rstrip("/")):
            return f"points at {parts.scheme}://{parts.netloc}{parts.path}, not FUNCTION_URL"
    if settings.url_tokens:
        sent = parse_qs(parts.query).get("token", [])
        if not sent:
            return "has no ?token= (CALLBACK_URL_TOKENS is set: the function refuses it)"
        if not any(_known(s, settings.url_tokens) for s in sent):
            return "its token is not one of CALLBACK_URL_TOKENS"
    return ""


def _keys(settings: Settings, used: list[tuple[str, dict[str, Any] | None]]) -> Check:
    if not settings.callback_keys:
        return Check("CSS callback key", True, "CSS_CALLBACK_KEYS is not set: templates' keys are not checked")
    wrong = sorted({f"{d} (template {t.get('TemplateId')})" for d, t in used
                    if t is not None and not _known(str(t.get("CallbackKey") or ""), settings.callback_keys)})
    if wrong:
        return Check("CSS callback key", False, f"the CallbackKey of {', '.join(wrong[:MAX_LISTED])} is not one of "
                     "CSS_CALLBACK_KEYS: its callbacks would be refused (401)",
                     "add the template's key to CSS_CALLBACK_KEYS (comma-separated during a rotation), or set the "
                     "template's key to one of them")
    return Check("CSS callback key", True, f"every template in use signs with one of CSS_CALLBACK_KEYS ({len(used)} "
                 "rule(s))")


def _known(key: str, keys: tuple[str, ...]) -> bool:
    return any(hmac.compare_digest(key.encode(), k.encode()) for k in keys)


def _unbound(domains: list[str], rules: list[Any]) -> Check:
    bound = {r.get("DomainName") for r in rules if isinstance(r, dict)}
    missing = [d for d in domains if d not in bound]
    if missing:
        return Check("push domains", False, f"{len(missing)} push domain(s) bound to no callback template: "
                     f"{', '.join(missing[:MAX_LISTED])}: CSS sends none of their callbacks",
                     "bind a callback template to each (CSS console, or CreateLiveCallbackRule)")
    return Check("push domains", True, f"all {len(domains)} push domain(s) have a callback rule")
