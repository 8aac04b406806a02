"""Which clip URLs may be copied: only objects on allowlisted COS hosts.

The body is unsigned, so a URL in it is a stranger's choice. We never fetch it;
we only ask COS to copy an object between buckets, and only when the host is
one the operator named and parses as a COS bucket host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

_COS_HOST = re.compile(r"(?P<bucket>[a-z0-9][a-z0-9-]{0,62})\.cos\.(?P<region>[a-z0-9-]{2,40})\.myqcloud\.com")


@dataclass(frozen=True)
class CosSource:
    bucket: str
    region: str
    key: str


def cos_source(url: str, allowed_hosts: frozenset[str]) -> CosSource | None:
    """The COS object behind ``url`` if it is safe to copy, else None."""
    if not url or len(url) > 2048 or any(ord(c) < 0x21 or c == "\\" for c in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or parts.username or parts.password or port is not None:
        return None
    host = (parts.hostname or "").lower()
    match = _COS_HOST.fullmatch(host)
    if host not in allowed_hosts or not match:
        return None
    key = unquote(parts.path).lstrip("/")
    if not key or any(seg in ("", ".", "..") for seg in key.split("/")) or parts.query or parts.fragment:
        return None
    return CosSource(bucket=match["bucket"], region=match["region"], key=key)
