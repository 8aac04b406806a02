"""COS objects through cos-python-sdk-v5, with a create-if-absent put for idempotency.

``x-cos-forbid-overwrite: true`` makes COS answer 409 FileAlreadyExists instead of
overwriting, so a redelivery writes nothing new. (COS ignores the header on a bucket
that has ever had versioning on; the per-event marker still guards there.)

Only that code means "exists": COS answers 409 for other conflicts too (error codes,
https://www.tencentcloud.com/document/product/436/7730): ``OperationAborted`` (a conflicting
operation on the same object is in progress: retried) and ``PathConflict`` and the like (the write
did not happen: a failure, so the event is not acknowledged as stored).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

from qcloud_cos import CosConfig, CosS3Client
from qcloud_cos.cos_exception import CosClientError, CosServiceError

from cssai import credentials
from cssai.settings import Settings
from cssai.sinks import SinkError
from cssai.sinks.transport import Connections, CosSession
from cssai.writes import CopyObject, PutObject

FORBID_OVERWRITE = "x-cos-forbid-overwrite"
EXISTS = "FileAlreadyExists"
EVENT_ID_META = "x-cos-meta-event-id"
_RETRYABLE_STATUS = frozenset({408, 429})
_RETRYABLE_CODES = frozenset({"OperationAborted", "SlowDown", "RequestTimeout"})

# The SDK logs request headers (security token included) at DEBUG, and every expected 404 of a
# marker read as an ERROR: silence it; our own log line carries the status of any real failure.
logging.getLogger("qcloud_cos").setLevel(logging.CRITICAL)


class CosObjects:
    """One client per container, rebuilt only when the role's keys rotate."""

    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.cos_bucket
        self.prefix = settings.cos_prefix
        self._settings = settings
        self._lock = threading.Lock()
        self._client: CosS3Client | None = None
        self._keys: credentials.Keys | None = None
        self._connections = Connections(settings.request_timeout_seconds)  # kept across key rotations

    def _cos(self) -> CosS3Client:
        keys = credentials.current()
        with self._lock:
            if self._client is None or keys != self._keys:
                self._client, self._keys = _client(self._settings, keys, self._connections), keys
            return self._client

    def _full(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def get(self, key: str) -> bytes | None:
        try:
            response = self._cos().get_object(Bucket=self.bucket, Key=self._full(key))
            return response["Body"].get_raw_stream().read()
        except CosServiceError as exc:
            if exc.get_status_code() == 404:
                return None
            raise _service_error("get", key, exc) from None
        except CosClientError as exc:
            raise _client_error("get", key, exc) from None

    def put(self, obj: PutObject, event_id: str, *, if_absent: bool) -> bool:
        headers = {EVENT_ID_META: event_id}
        if if_absent:
            headers[FORBID_OVERWRITE] = "true"
        try:
            self._cos().put_object(
                Bucket=self.bucket,
                Key=self._full(obj.key),
                Body=obj.body,
                ContentType=obj.content_type,
                Metadata=headers,
            )
        except CosServiceError as exc:
            if if_absent and _exists(exc):
                return False  # already stored by an earlier delivery: nothing new to write
            raise _service_error("put", obj.key, exc) from None
        except CosClientError as exc:
            raise _client_error("put", obj.key, exc) from None
        return True

    def copy(self, copy: CopyObject, event_id: str) -> None:
        source = {"Bucket": copy.source_bucket, "Region": copy.source_region, "Key": copy.source_key}
        try:
            self._cos().copy_object(
                Bucket=self.bucket,
                Key=self._full(copy.key),
                CopySource=source,
                CopyStatus="Replaced",
                Metadata={EVENT_ID_META: event_id, FORBID_OVERWRITE: "true"},
            )
        except CosServiceError as exc:
            if _exists(exc):
                return
            raise _service_error("copy", copy.key, exc) from None
        except CosClientError as exc:
            raise _client_error("copy", copy.key, exc) from None


    def head(self, key: str) -> bool:
        try:
            self._cos().head_object(Bucket=self.bucket, Key=self._full(key))
        except CosServiceError as exc:
            if exc.get_status_code() == 404:
                return False
            raise _service_error("head", key, exc) from None
        except CosClientError as exc:
            raise _client_error("head", key, exc) from None
        return True

    def delete(self, key: str) -> None:
        try:
            self._cos().delete_object(Bucket=self.bucket, Key=self._full(key))
        except CosServiceError as exc:
            raise _service_error("delete", key, exc) from None
        except CosClientError as exc:
            raise _client_error("delete", key, exc) from None

    def versioning(self) -> str:
        """The bucket's versioning status: "Enabled", "Suspended", or "" (never enabled)."""
        try:
            answer = self._cos().get_bucket_versioning(Bucket=self.bucket)
        except CosServiceError as exc:
            raise _service_error("get versioning of", self.bucket, exc) from None
        except CosClientError as exc:
            raise _client_error("get versioning of", self.bucket, exc) from None
        return str((answer or {}).get("Status") or "")

    def list(self, prefix: str) -> Iterator[str]:
        marker = ""
        while True:
            try:
                page = self._cos().list_objects(Bucket=self.bucket, Prefix=self._full(prefix), Marker=marker,
                                                MaxKeys=1000)
            except CosServiceError as exc:
                raise _service_error("list", prefix, exc) from None
            except CosClientError as exc:
                raise _client_error("list", prefix, exc) from None
            for item in page.get("Contents", []):
                yield item["Key"][len(self.prefix):]
            if page.get("IsTruncated") != "true":
                return
            marker = page.get("NextMarker") or page["Contents"][-1]["Key"]


def _client(settings: Settings, keys: credentials.Keys, connections: Connections) -> CosS3Client:
    options: dict[str, object] = {"Timeout": settings.request_timeout_seconds}
    if settings.cos_endpoint_url:
        url = urlsplit(settings.cos_endpoint_url)
        options.update(Scheme=url.scheme, IP=url.hostname, Port=url.port)
    if not keys.secret_id or not keys.secret_key:
        raise SinkError("COS credentials missing: set TENCENTCLOUD_SECRETID/SECRETKEY or a role", transient=False)
    try:
        config = CosConfig(
            Region=settings.cos_region,
            SecretId=keys.secret_id,
            SecretKey=keys.secret_key,
            Token=keys.token,
            **options,
        )
    except CosClientError as exc:
        raise SinkError(f"COS configuration refused: {exc}", transient=False) from None
    # The SDK's documented session parameter; the executor retries, within the event's deadline.
    return CosS3Client(config, retry=0, session=CosSession(connections))


def _exists(exc: CosServiceError) -> bool:
    return exc.get_status_code() == 409 and exc.get_error_code() == EXISTS


def _service_error(op: str, key: str, exc: CosServiceError) -> SinkError:
    status = exc.get_status_code()
    transient = status >= 500 or status in _RETRYABLE_STATUS or exc.get_error_code() in _RETRYABLE_CODES
    hint = " (check the credentials and the role's COS permissions)" if status in (401, 403) else ""
    return SinkError(f"COS {op} {key}: HTTP {status} {exc.get_error_code()}{hint}", transient=transient)


def _client_error(op: str, key: str, exc: CosClientError) -> SinkError:
    return SinkError(f"COS {op} {key}: {type(exc).__name__}: {str(exc)[:200]}", transient=True)
