"""CLS records through the tencentcloud SDK's ``UploadLog`` with a protobuf body.

The request is the one ``ClsClient.UploadLog`` (tencentcloud-sdk-python-cls) sends: action ``UploadLog``,
version 2020-10-16, the topic in header ``X-CLS-TopicId``, the ``LogGroupList`` as an octet-stream body,
TC3-signed. It is sent with the SDK's generic ``CommonClient.call_octet_stream`` (tencentcloud-sdk-python-
common, https://github.com/TencentCloud/tencentcloud-sdk-python/tree/master/examples/common_client):
importing ``ClsClient`` also imports the CLS models, 2 MB of source, about 50 ms of a cold start at a
full core (five times that at SCF's 0.2 of a core) for a request we build ourselves anyway.
tests/test_cloud_sinks.py checks the bytes against ClsClient's own.

Limits from the CLS "API/SDK upload limits" page (doc 614/78959): at most 10,000 logs in a
logGroup, 1 MB per value, 5 MB of values per request, 6 MB of body before compression, and no
key may start with ``_``. A bigger event is split into several uploads, built one at a time.

Error classes, from UploadLog's error codes (https://cloud.tencent.com/document/api/614/59470 and the
common codes, https://www.tencentcloud.com/document/product/614/42832; the SDK's
``cls/v20201016/errorcodes.py``): refusals are recognised by their documented code families
(``_REFUSED_FAMILIES``: a code equal to a family or under it, ``InvalidParameter.AnythingNew`` included),
which say the request itself can never be accepted (bad data, a closed, isolated or missing topic, a
destroyed account); their records become a dead letter and the event is stored.
Credentials are a 503 until fixed. Everything else, including an answer
that is not an API response at all (an HTML page from a proxy, an empty body, JSON without
``Response``, an unknown code), is transient: retried within the deadline, then a 503 so CSS retries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from urllib.parse import urlsplit

from tencentcloud.common.common_client import CommonClient
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from cssai import text
from cssai.credentials import EnvCredential
from cssai.settings import Settings
from cssai.sinks import SinkError, transport
from cssai.sinks.cls_pb2 import LogGroupList
from cssai.writes import CLS_KEY, LogRecord

SERVICE, VERSION, ACTION = "cls", "2020-10-16", "UploadLog"
MAX_LOGS = 10_000
MAX_VALUE_BYTES = 1024 * 1024
MAX_BATCH_BYTES = 2 * 1024 * 1024  # well under the 5 MB of values and 6 MB of body; bounds memory per upload
TRUNCATED = "…[truncated]"
SOURCE = "css-ai-callback"
# The common error families that describe the request (https://www.tencentcloud.com/document/product/614/42832:
# parameters, an unsupported operation, a missing resource) and UploadLog's own permanent codes (a log too
# large, a closed or isolated topic, an account in arrears or destroyed). Throttling (RequestLimitExceeded,
# FailedOperation.WriteQpsLimit...), InternalError and everything unrecognised stay transient.
_REFUSED_FAMILIES = (
    "InvalidParameter", "InvalidParameterValue", "MissingParameter", "UnknownParameter", "UnsupportedOperation",
    "ResourceNotFound", "LimitExceeded.LogSize", "FailedOperation.TopicClosed", "FailedOperation.TopicIsolated",
    "OperationDenied.Account",
)
_CREDENTIALS = ("AuthFailure", "UnauthorizedOperation")
_NOT_AN_ANSWER = (ValueError, KeyError, TypeError, AttributeError, IndexError)  # a body the SDK could not read

logging.getLogger("tencentcloud_sdk_common").setLevel(logging.WARNING)


class ClsLogs:
    """One ClsClient per container; credentials are read from the environment per request."""

    def __init__(self, settings: Settings) -> None:
        self.topic_id = settings.cls_topic_id
        http = HttpProfile(reqTimeout=settings.request_timeout_seconds, keepAlive=True)
        if settings.cls_endpoint_url:
            url = urlsplit(settings.cls_endpoint_url)
            http = HttpProfile(protocol=url.scheme, endpoint=url.netloc, reqTimeout=settings.request_timeout_seconds,
                               keepAlive=True)
        client = CommonClient(SERVICE, VERSION, EnvCredential(), settings.cls_region, ClientProfile(httpProfile=http))
        self._client = transport.use_for(client, transport.Connections(settings.request_timeout_seconds))

    def batches(self, records: Iterable[LogRecord]) -> Iterator[Sequence[LogRecord]]:
        """Uploads that respect CLS's per-request limits (usually one), made as they are consumed."""
        batch: list[LogRecord] = []
        size = 0
        for rec in records:
            cost = 16 + sum(len(k) + min(_utf8_len(v), MAX_VALUE_BYTES) + 8 for k, v in rec.fields.items())
            if batch and (len(batch) >= MAX_LOGS or size + cost > MAX_BATCH_BYTES):
                yield batch
                batch, size = [], 0
            batch.append(rec)
            size += cost
        if batch:
            yield batch

    def upload(self, records: Sequence[LogRecord], common: Mapping[str, str], *, again: bool = False) -> None:
        try:
            answer = self._client.call_octet_stream(ACTION, {"X-CLS-TopicId": self.topic_id}, encode(records, common))
        except TencentCloudSDKException as exc:
            raise classify(exc) from None
        except _NOT_AN_ANSWER as exc:
            raise SinkError(f"CLS UploadLog: the answer is not an API response ({type(exc).__name__})",
                            transient=True) from None
        error = _error_in(answer)
        if error is not None:  # an error the SDK let through (its check reads only exact JSON content types)
            raise classify(error)
        if not _accepted(answer):
            raise SinkError("CLS UploadLog: the answer is not an API response (no Response.RequestId)",
                            transient=True)


def _error_in(answer: object) -> TencentCloudSDKException | None:
    """``{"Response": {"Error": {"Code", "Message"}}}`` under a content type the SDK does not check
    (``application/json; charset=utf-8``): the same error as the SDK would have raised."""
    response = answer.get("Response") if isinstance(answer, dict) else None
    error = response.get("Error") if isinstance(response, dict) else None
    if not isinstance(error, dict):
        return None
    return TencentCloudSDKException(str(error.get("Code") or ""), str(error.get("Message") or ""))


def _accepted(answer: object) -> bool:
    """A success is ``{"Response": {"RequestId": ...}}`` without ``Error`` (every API v3 answer has a RequestId).

    An answer the SDK cannot read raises the Python error itself (``JSONDecodeError``, ``KeyError``...;
    caught as ``_NOT_AN_ANSWER``); ``{"Response": {}}`` has no RequestId: both are not answers, so transient.
    """
    response = answer.get("Response") if isinstance(answer, dict) else None
    return isinstance(response, dict) and "Error" not in response and isinstance(response.get("RequestId"), str) \
        and bool(response["RequestId"])


def classify(exc: TencentCloudSDKException) -> SinkError:
    """Documented refusals: dead-lettered. Credentials: a 503 until fixed. Anything else: retried."""
    code = exc.get_code() or ""
    message = f"CLS UploadLog: {code}: {str(exc.get_message())[:200]}"
    if refused(code):
        return SinkError(message, transient=False, refused=True)
    if code.startswith(_CREDENTIALS):
        return SinkError(message + " (check the credentials and the role's cls:UploadLog)", transient=False)
    return SinkError(message, transient=True)


def refused(code: str) -> bool:
    """Whether an error code is a permanent refusal: a family itself, or a code under it (``Family.Sub``);
    ``OperationDenied.Account`` covers AccountIsolate, AccountDestroy, AccountNotExists."""
    return any(code == family or code.startswith(family + ".") or
               (family.endswith(".Account") and code.startswith(family)) for family in _REFUSED_FAMILIES)


def encode(records: Sequence[LogRecord], common: Mapping[str, str] | None = None) -> bytes:
    """The LogGroupList protobuf body of one upload."""
    groups = LogGroupList()
    group = groups.logGroupList.add()
    group.source = SOURCE
    shared = [(key, _bounded(value)) for key, value in (common or {}).items() if valid_key(key)]
    for rec in records:
        log = group.logs.add()
        log.time = rec.time_ms
        contents = log.contents
        for key, value in rec.fields.items():
            if not valid_key(key):  # never the receiver's (writes.CLS_KEY); left out rather than refused
                continue
            content = contents.add()
            content.key = key
            content.value = _bounded(value)
        for key, value in shared:
            content = contents.add()
            content.key = key
            content.value = value
    return groups.SerializeToString()


@lru_cache(maxsize=4096)
def valid_key(key: str) -> bool:
    """A field name CLS takes and can index (``writes.CLS_KEY``); the names in use are few, so cached."""
    return CLS_KEY.fullmatch(key) is not None


def _utf8_len(value: str) -> int:
    return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))


def _bounded(value: str) -> str:
    """A value CLS accepts: valid UTF-8 (lone surrogates replaced) and at most 1 MB."""
    if value.isascii() and len(value) <= MAX_VALUE_BYTES:
        return value
    data = text.utf8(value)
    if len(data) <= MAX_VALUE_BYTES:
        return data.decode()
    return data[: MAX_VALUE_BYTES - 32].decode(errors="ignore") + TRUNCATED
