"""A COS look-alike: checks q-sign HMAC-SHA1 signatures, stores objects, honours forbid-overwrite."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from tests.fake_http import FaultyHandler, FaultyServer

HOST_SUFFIX = ".cos.{region}.myqcloud.com"


@dataclass
class StoredObject:
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    writes: int = 1


def _xml_error(code: str, message: str) -> bytes:
    """COS's error document: Code, Message, Resource, RequestId, TraceId (the SDK reads the code only when all
    of the first four are there)."""
    return (f"<Error><Code>{code}</Code><Message>{message}</Message><Resource>fake.cos</Resource>"
            f"<RequestId>fake</RequestId><TraceId>fake</TraceId></Error>").encode()


class CosHandler(FaultyHandler):
    server: CosServer

    def _key(self) -> tuple[str, str]:
        host = self.headers.get("Host", "")
        bucket = host.split(".cos.", 1)[0]
        return bucket, unquote(urlsplit(self.path).path).lstrip("/")

    def _authorised(self) -> bool:
        """Recompute the q-sign signature exactly as COS does, from what arrived."""
        auth = dict(part.split("=", 1) for part in self.headers.get("Authorization", "").split("&") if "=" in part)
        try:
            start, end = (int(x) for x in auth["q-key-time"].split(";"))
        except (KeyError, ValueError):
            return False
        if auth.get("q-ak") != self.server.secret_id or not start <= time.time() <= end:
            return False
        if self.server.token and self.headers.get("x-cos-security-token") != self.server.token:
            return False
        header_names = [h for h in auth.get("q-header-list", "").split(";") if h]
        headers = {quote(k.lower(), "-_.~"): quote(v, "-_.~") for k, v in self.headers.items()}
        header_str = "&".join(f"{n}={headers.get(n, '')}" for n in sorted(header_names))
        params = {quote(k, "-_.~").lower(): quote(v, "-_.~") for k, v in parse_qsl(urlsplit(self.path).query, True)}
        param_names = [p for p in auth.get("q-url-param-list", "").split(";") if p]
        param_str = "&".join(f"{n}={params.get(n, '')}" for n in sorted(param_names))
        path = unquote(urlsplit(self.path).path)
        fmt = f"{self.command.lower()}\n{path}\n{param_str}\n{header_str}\n"
        to_sign = f"sha1\n{auth['q-sign-time']}\n{hashlib.sha1(fmt.encode()).hexdigest()}\n"
        sign_key = hmac.new(self.server.secret_key.encode(), auth["q-key-time"].encode(), hashlib.sha1).hexdigest()
        expected = hmac.new(sign_key.encode(), to_sign.encode(), hashlib.sha1).hexdigest()
        return hmac.compare_digest(expected, auth.get("q-signature", ""))

    def _handle(self) -> None:
        bucket, key = self._key()
        target = f"{bucket}/{key}"
        body = self.read_body() if self.command == "PUT" else b""
        if self.apply_fault(key):
            return
        self.target = target
        if not self._authorised():
            self.answer(403, _xml_error("SignatureDoesNotMatch", "bad signature"), "application/xml")
            return
        getattr(self, f"_do_{self.command.lower()}")(bucket, key, body)

    do_GET = do_PUT = do_HEAD = do_DELETE = _handle

    def _do_delete(self, bucket: str, key: str, body: bytes) -> None:
        with self.server.lock:
            self.server.objects.pop((bucket, key), None)
        self.answer(204, b"", "application/xml")

    def _do_get(self, bucket: str, key: str, body: bytes) -> None:
        if not key and self.server.registry and bucket not in self.server.buckets:
            self.answer(404, _xml_error("NoSuchBucket", "no such bucket"), "application/xml")
            return
        if not key and self.command == "HEAD":
            self.answer(200, b"", "application/xml")
            return
        if not key and "versioning" in dict(parse_qsl(urlsplit(self.path).query, True)):
            versioning = self.server.buckets.get(bucket, "") or ("Enabled" if self.server.versioned else "")
            status = f"<Status>{versioning}</Status>" if versioning else ""
            self.answer(200, f"<VersioningConfiguration>{status}</VersioningConfiguration>".encode(), "application/xml")
            return
        if not key:
            self._list(bucket)
            return
        with self.server.lock:
            obj = self.server.objects.get((bucket, key))
        if obj is None:
            self.answer(404, _xml_error("NoSuchKey", "no such key"), "application/xml")
            return
        self.answer(200, obj.body, obj.headers.get("content-type", "application/octet-stream"))
        return 200

    _do_head = _do_get

    def _list(self, bucket: str) -> None:
        """GET Bucket (list objects), url-encoded keys, pages of max-keys."""
        query = dict(parse_qsl(urlsplit(self.path).query, True))
        prefix, marker = query.get("prefix", ""), query.get("marker", "")
        limit = int(query.get("max-keys") or 1000)
        with self.server.lock:
            names = sorted(k for (b, k) in self.server.objects if b == bucket and k.startswith(prefix) and k > marker)
        page, truncated = names[:limit], len(names) > limit
        contents = "".join(f"<Contents><Key>{quote(k, safe='/')}</Key></Contents>" for k in page)
        xml = (f"<ListBucketResult><Name>{bucket}</Name><Prefix>{quote(prefix, safe='/')}</Prefix>"
               f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
               + (f"<NextMarker>{quote(page[-1], safe='/')}</NextMarker>" if truncated else "")
               + f"{contents}</ListBucketResult>")
        self.answer(200, xml.encode(), "application/xml")

    def _do_put(self, bucket: str, key: str, body: bytes) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        if not key:  # PUT Bucket: create it
            with self.server.lock:
                exists = bucket in self.server.buckets
                self.server.buckets.setdefault(bucket, "")
                self.server.created.append(bucket)
            if exists:
                self.answer(409, _xml_error("BucketAlreadyOwnedByYou", "exists"), "application/xml")
            else:
                self.answer(200, b"", "application/xml")
            return
        source = headers.get("x-cos-copy-source")
        if source:
            src_host, _, src_key = source.partition("/")
            with self.server.lock:
                original = self.server.objects.get((src_host.split(".cos.", 1)[0], unquote(src_key)))
            if original is None:
                self.answer(404, _xml_error("NoSuchKey", "copy source missing"), "application/xml")
                return
            body = original.body
        with self.server.lock:
            existing = self.server.objects.get((bucket, key))
            forbid = headers.get("x-cos-forbid-overwrite") == "true" and not self.server.versioned
            if existing is not None and forbid:
                conflict = True
            else:
                conflict = False
                writes = existing.writes + 1 if existing else 1
                self.server.objects[(bucket, key)] = StoredObject(body, headers, writes)
        if conflict:
            self.answer(409, _xml_error("FileAlreadyExists", "forbid overwrite"), "application/xml")
            return
        if source:
            result = b"<CopyObjectResult><ETag>\"fake\"</ETag><LastModified>now</LastModified></CopyObjectResult>"
            self.answer(200, result, "application/xml")
        else:
            self.answer(200, b"", "application/xml", {"ETag": f'"{hashlib.md5(body).hexdigest()}"'})


class CosServer(FaultyServer):
    def __init__(self, secret_id: str, secret_key: str, token: str | None = None) -> None:
        super().__init__(CosHandler)
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.token = token
        self.objects: dict[tuple[str, str], StoredObject] = {}
        self.versioned = False  # as COS with versioning on: x-cos-forbid-overwrite is ignored
        self.registry = False  # True: only the buckets in `buckets` exist (setup's tests)
        self.buckets: dict[str, str] = {}  # bucket -> versioning status ("", "Enabled", "Suspended")
        self.created: list[str] = []

    def keys(self, bucket: str) -> dict[str, bytes]:
        with self.lock:
            return {k: o.body for (b, k), o in self.objects.items() if b == bucket}

    def seed(self, bucket: str, key: str, body: bytes) -> None:
        with self.lock:
            self.objects[(bucket, key)] = StoredObject(body)
