"""Credentials read from the environment at each use.

SCF puts the role's temporary keys in TENCENTCLOUD_SECRETID/SECRETKEY/SESSIONTOKEN
and rotates them; a value cached at import time would go stale.
"""

from __future__ import annotations

import os
from typing import NamedTuple


class Keys(NamedTuple):
    secret_id: str
    secret_key: str
    token: str | None

    def __repr__(self) -> str:  # never print a secret by accident
        return f"Keys(secret_id={self.secret_id[:4]}…, secret_key=***, token={'***' if self.token else None})"


def current() -> Keys:
    return Keys(
        os.environ.get("TENCENTCLOUD_SECRETID", ""),
        os.environ.get("TENCENTCLOUD_SECRETKEY", ""),
        os.environ.get("TENCENTCLOUD_SESSIONTOKEN") or None,
    )


class EnvCredential:
    """The tencentcloud-sdk credential interface, backed by the live environment."""

    @property
    def secret_id(self) -> str:
        return current().secret_id

    @property
    def secret_key(self) -> str:
        return current().secret_key

    @property
    def token(self) -> str | None:
        return current().token

    def get_credential_info(self) -> tuple[str, str, str | None]:
        keys = current()
        return keys.secret_id, keys.secret_key, keys.token
