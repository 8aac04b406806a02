"""Who may write: a CSS-signed body (``t``/``sign``), a secret token in the callback URL, or both.

The CSS console's callback key is optional; without it CSS sends no ``t``/``sign`` (DESIGN.md), so an
operator who cannot or did not set one configures ``CALLBACK_URL_TOKENS`` and a callback URL ending in
``?token=...``. With both settings both checks apply; with neither, every request is refused.
A direct invocation has no URL, so only a key can admit it. Token values never reach a log line,
an error body or the archive (the archive keeps the body, never the URL).

Relay callbacks (314) are configured per pull-and-push task and never carry ``t``/``sign``
(https://www.tencentcloud.com/document/product/267/42525): they are admitted by the URL token alone,
even when keys are also set, and refused, saying so, when no token is configured.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from cssai.signature import SignatureError, verify

TOKEN_PARAMETER = "token"  # noqa: S105 - the query parameter's name, not a secret
NOTHING_CONFIGURED = "no callback authentication is configured (CSS_CALLBACK_KEYS or CALLBACK_URL_TOKENS): refusing"
NO_SIGNATURE = ("the callback carries no t/sign: set the callback key in the CSS console to one of "
                "CSS_CALLBACK_KEYS, or use CALLBACK_URL_TOKENS")
DIRECT_NEEDS_KEY = "a direct invocation has no URL token: it is accepted only with CSS_CALLBACK_KEYS"
RELAY_TYPE = 314
RELAY_NEEDS_TOKEN = ("relay callbacks (314) are never signed: they are accepted only with "  # noqa: S105 - a message
                     "CALLBACK_URL_TOKENS and the task's CallbackUrl ending in ?token=<one of them>")
RELAY_DIRECT = "a relay callback (314) is never signed and a direct invocation has no URL token: refusing"
TOKEN_MISSING = "the callback URL carries no ?token= (CALLBACK_URL_TOKENS is set)"  # noqa: S105 - a message
TOKEN_WRONG = "the callback URL's token is not one of CALLBACK_URL_TOKENS"  # noqa: S105 - a message


class AuthError(SignatureError):
    """The request is not proven to come from the operator's CSS (answered 401)."""


def authenticate(body: Mapping[str, Any], query: Mapping[str, str] | None, keys: Sequence[str],
                 tokens: Sequence[str], now: float, grace: float = 0) -> None:
    """Raise AuthError (or SignatureError) unless every configured check passes.

    ``query`` is None for a direct invocation, which has no URL. ``grace``: CALLBACK_T_GRACE_SECONDS.
    """
    if not keys and not tokens:
        raise AuthError(NOTHING_CONFIGURED)
    event_type = body.get("event_type")
    if event_type == RELAY_TYPE and not isinstance(event_type, bool):  # the token alone, whatever the keys
        if query is None:
            raise AuthError(RELAY_DIRECT)
        if not tokens:
            raise AuthError(RELAY_NEEDS_TOKEN)
        _check_token(query.get(TOKEN_PARAMETER), tokens)
        return
    if query is None:
        if not keys:
            raise AuthError(DIRECT_NEEDS_KEY)
    elif tokens:
        _check_token(query.get(TOKEN_PARAMETER), tokens)
    if keys:
        if "t" not in body and "sign" not in body:
            raise AuthError(NO_SIGNATURE)
        verify(body, keys, now, grace)


def _check_token(given: str | None, tokens: Sequence[str]) -> None:
    if not given:
        raise AuthError(TOKEN_MISSING)
    matched = False
    presented = given.encode("utf-8", "surrogatepass")
    for token in tokens:  # compare against every token, in constant time: timing tells nothing
        matched |= hmac.compare_digest(presented, token.encode("utf-8", "surrogatepass"))
    if not matched:
        raise AuthError(TOKEN_WRONG)
