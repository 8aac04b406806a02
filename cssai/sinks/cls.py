"""CLS records through tencentcloud-sdk-python-cls ``UploadLog`` with a protobuf body.

Limits from the CLS "API/SDK upload limits" page: at most 10,000 logs in a request,
1 MB per value, 5 MB of values per request, 6 MB of body before compression, and no
key may start with ``_``. A bigger event is split into several uploads.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urlsplit

from tencentcloud.cls.v20201016 import cls_client, models
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from cssai.credentials import EnvCredential
from cssai.settings import Settings
from cssai.sinks import SinkError
from cssai.sinks.cls_pb2 import LogGroupList
from cssai.writes import LogRecord

MAX_LOGS = 10_000
MAX_VALUE_BYTES = 1024 * 1024
MAX_BATCH_BYTES = 4 * 1024 * 1024  # under both the 5 MB of values and the 6 MB body
TRUNCATED = "…[truncated]"
SOURCE = "css-ai-callback"
_TRANSIENT_PREFIXES = ("ServerNetworkError", "ClientNetworkError", "InternalError", "LimitExceeded",
                       "RequestLimitExceeded", "ResourceUnavailable", "FailedOperation.Timeout")

logging.getLogger("tencentcloud_sdk_common").setLevel(logging.WARNING)


class ClsLogs:
    """One ClsClient per container; credentials are read from the environment per request."""

    def __init__(self, settings: Settings) -> None:
        self.topic_id = settings.cls_topic_id
        http = HttpProfile(reqTimeout=settings.request_timeout_seconds)
        if settings.cls_endpoint_url:
            url = urlsplit(settings.cls_endpoint_url)
            http = HttpProfile(protocol=url.scheme, endpoint=url.netloc, reqTimeout=settings.request_timeout_seconds)
        self._client = cls_client.ClsClient(EnvCredential(), settings.cls_region, ClientProfile(httpProfile=http))

    def batches(self, records: Sequence[LogRecord]) -> list[Sequence[LogRecord]]:
        """Split into uploads that respect CLS's per-request limits; usually one."""
        out: list[Sequence[LogRecord]] = []
        start, size = 0, 0
        for index, rec in enumerate(records):
            cost = 16 + sum(len(k) + min(_utf8_len(v), MAX_VALUE_BYTES) + 8 for k, v in rec.fields.items())
            if index > start and (index - start >= MAX_LOGS or size + cost > MAX_BATCH_BYTES):
                out.append(records[start:index])
                start, size = index, 0
            size += cost
        if start < len(records):
            out.append(records[start:])
        return out

    def upload(self, records: Sequence[LogRecord]) -> None:
        request = models.UploadLogRequest()
        request.TopicId = self.topic_id
        try:
            self._client.UploadLog(request, encode(records))
        except TencentCloudSDKException as exc:
            code = exc.get_code() or ""
            transient = code.startswith(_TRANSIENT_PREFIXES)
            raise SinkError(f"CLS UploadLog: {code}: {str(exc.get_message())[:200]}", transient=transient) from None


def encode(records: Sequence[LogRecord]) -> bytes:
    """The LogGroupList protobuf body of one upload."""
    groups = LogGroupList()
    group = groups.logGroupList.add()
    group.source = SOURCE
    for rec in records:
        log = group.logs.add()
        log.time = rec.time_ms
        for key, value in rec.fields.items():
            content = log.contents.add()
            content.key = key.lstrip("_") or "field"
            content.value = _bounded(value)
    return groups.SerializeToString()


def _utf8_len(value: str) -> int:
    return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))


def _bounded(value: str) -> str:
    """A value CLS accepts: valid UTF-8 (lone surrogates replaced) and at most 1 MB."""
    if value.isascii() and len(value) <= MAX_VALUE_BYTES:
        return value
    data = value.encode("utf-8", "replace")
    if len(data) <= MAX_VALUE_BYTES:
        return data.decode()
    return data[: MAX_VALUE_BYTES - 32].decode(errors="ignore") + TRUNCATED
