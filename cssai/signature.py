"""CSS callback signature: ``sign = md5(key + str(t))``, lowercase hex, t in the body.

Only ``t`` is signed, so the body is untrusted even when the sign is right.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from typing import Any

VALIDITY_SECONDS = 600
CLOCK_SKEW_SECONDS = 60
_SIGN = re.compile(r"[0-9a-f]{32}")
_MAX_T = 2**63 - 1


class SignatureError(Exception):
    """The callback is not proven to come from CSS (answered 401)."""


def sign(key: str, t: int) -> str:
    return hashlib.md5(f"{key}{t}".encode()).hexdigest()


def verify(body: Mapping[str, Any], keys: Iterable[str], now: float, grace: float = 0) -> None:
    """Raise SignatureError unless some key signs ``t`` and ``t`` is in its window.

    ``grace``: seconds a passed ``t`` is still accepted (CALLBACK_T_GRACE_SECONDS). CSS fixes ``t`` when it
    creates the event (t ≈ event time + 600 s) and retries up to 12 times a minute apart, so its last
    retries can carry a ``t`` that passed a few minutes ago (the threat model says what this costs).
    """
    keys = list(keys)
    if not keys:
        raise SignatureError("no callback key is configured (CSS_CALLBACK_KEYS): refusing")
    t = body.get("t")
    given = body.get("sign")
    if isinstance(t, bool) or not isinstance(t, int) or not 0 < t <= _MAX_T:
        raise SignatureError("t is missing or not a positive integer")
    if not isinstance(given, str) or not _SIGN.fullmatch(given):
        raise SignatureError("sign is missing or not 32 lowercase hex digits")
    if t + grace < now:
        late = f" (more than CALLBACK_T_GRACE_SECONDS={grace:g} ago)" if grace else ""
        raise SignatureError(f"t has expired{late}")
    if t > now + VALIDITY_SECONDS + CLOCK_SKEW_SECONDS:
        raise SignatureError("t is implausibly far in the future")
    matched = False
    for key in keys:  # compare against every key: time does not tell which one matched
        matched |= hmac.compare_digest(sign(key, t), given)
    if not matched:
        raise SignatureError("sign does not match")
