"""``python index.py setup``: create what a deploy needs and is missing, with the operator's credentials.

- the COS bucket, private and never versioned (COS ignores ``x-cos-forbid-overwrite`` on a bucket that has
  ever had versioning, and create-if-absent is what keeps retries from duplicating): an existing bucket
  with versioning Enabled or Suspended is refused, with the reason;
- the CLS logset and topic, found by name when they exist (or the topic by CLS_TOPIC_ID);
- the topic's index from ``deploy/cls-index.json`` (CreateIndex's ``Rule``): an existing index that
  differs is reported, never changed.

It never deletes or modifies anything that exists: a second run creates nothing and says so. Tencent's
``cos`` and ``cls`` serverless components could create these too, but their ``remove`` deletes the
bucket and the topic with every stored callback. API pages: HEAD Bucket (200 yours, 403 not yours or
no right, 404 absent) https://www.tencentcloud.com/document/api/436/7735; versioning (never enabled:
GET Bucket versioning returns no state; once enabled it can only be suspended)
https://www.tencentcloud.com/document/api/436/19889; CLS CreateIndex (``Rule``: ``RuleInfo``)
https://www.tencentcloud.com/document/api/614/42805. CAM: deploy/cam-policy-operator.json.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cssai.ops.doctor import Check

ROOT = Path(__file__).resolve().parent.parent.parent
INDEX_FILE = ROOT / "deploy" / "cls-index.json"
DEFAULT_NAME = "css-callbacks"


@dataclass(frozen=True)
class Step(Check):
    """A doctor-style line (✓/✗, and the fix), that also says whether it created something."""

    created: bool = False


@dataclass
class Result:
    steps: list[Step] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # the .env lines to use

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


def run(index_file: Path = INDEX_FILE) -> Result:
    result = Result()
    secret_id, secret_key = _env("TENCENTCLOUD_SECRETID"), _env("TENCENTCLOUD_SECRETKEY")
    if not secret_id or not secret_key:
        result.steps.append(Step("credentials", False, "TENCENTCLOUD_SECRETID and TENCENTCLOUD_SECRETKEY are not set",
                                 "use keys of a sub-account carrying deploy/cam-policy-operator.json"))
        return result
    region = _env("REGION")
    bucket, cos_region = _env("COS_BUCKET"), _env("COS_REGION", region)
    if bucket and cos_region:
        result.steps.append(_bucket(bucket, cos_region, secret_id, secret_key))
        result.env.update(COS_BUCKET=bucket, COS_REGION=cos_region)
    else:
        result.steps.append(Step("COS bucket", False, "COS_BUCKET and COS_REGION (or REGION) are not set",
                                 "set COS_BUCKET=<name>-<appid> and COS_REGION, e.g. ap-guangzhou"))
    cls_region = _env("CLS_REGION", region)
    if cls_region:
        result.steps.extend(_cls(cls_region, secret_id, secret_key, index_file, result.env))
    else:
        result.steps.append(Step("CLS", False, "CLS_REGION (or REGION) is not set",
                                 "set CLS_REGION, e.g. ap-guangzhou"))
    return result


def _bucket(bucket: str, region: str, secret_id: str, secret_key: str) -> Step:
    from qcloud_cos import CosConfig, CosS3Client
    from qcloud_cos.cos_exception import CosClientError, CosServiceError

    options: dict[str, Any] = {}
    endpoint = _env("COS_ENDPOINT_URL")
    if endpoint:
        url = urlsplit(endpoint)
        options.update(Scheme=url.scheme, IP=url.hostname, Port=url.port)
    client = CosS3Client(CosConfig(Region=region, SecretId=secret_id, SecretKey=secret_key,
                                   Token=_env("TENCENTCLOUD_SESSIONTOKEN") or None, **options), retry=1)
    name = f"COS bucket {bucket} ({region})"
    try:
        try:
            client.head_bucket(Bucket=bucket)
        except CosServiceError as exc:
            if exc.get_status_code() != 404:
                raise
            client.create_bucket(Bucket=bucket, ACL="private")
            return Step(name, True, "created, private, versioning never enabled", created=True)
        status = str((client.get_bucket_versioning(Bucket=bucket) or {}).get("Status") or "")
    except CosServiceError as exc:
        code = exc.get_status_code()
        fix = ("the name is taken by another account, or these keys lack cos:HeadBucket/PutBucket "
               "(deploy/cam-policy-operator.json)") if code in (401, 403) else "see the COS error"
        return Step(name, False, f"HTTP {code} {exc.get_error_code()}", fix)
    except CosClientError as exc:
        return Step(name, False, f"cannot reach COS: {str(exc)[:200]}", "check COS_REGION and the network")
    if status:
        return Step(name, False, f"exists with versioning {status}: COS then ignores x-cos-forbid-overwrite, so "
                    "retries could write twice", "use a bucket that never had versioning (versioning cannot be "
                    "turned off once enabled, only suspended)")
    return Step(name, True, "exists, versioning never enabled: nothing to create")


def _cls(region: str, secret_id: str, secret_key: str, index_file: Path, env: dict[str, str]) -> list[Step]:
    from tencentcloud.cls.v20201016 import cls_client, models
    from tencentcloud.common.credential import Credential
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile

    http = HttpProfile(reqTimeout=10)
    endpoint = _env("CLS_ENDPOINT_URL")
    if endpoint:
        url = urlsplit(endpoint)
        http = HttpProfile(protocol=url.scheme, endpoint=url.netloc, reqTimeout=10)
    client = cls_client.ClsClient(Credential(secret_id, secret_key, _env("TENCENTCLOUD_SESSIONTOKEN") or None),
                                  region, ClientProfile(httpProfile=http))

    def call(action: str, fill: Callable[[Any], None]) -> Any:
        request = getattr(models, f"{action}Request")()
        fill(request)
        return getattr(client, action)(request)

    def named(key: str, value: str) -> list[Any]:
        one = models.Filter()
        one.Key, one.Values = key, [value]
        return [one]

    steps: list[Step] = []
    logset_name, topic_name = _env("CLS_LOGSET_NAME", DEFAULT_NAME), _env("CLS_TOPIC_NAME", DEFAULT_NAME)
    try:
        topic_id = _env("CLS_TOPIC_ID")
        if topic_id:
            found = call("DescribeTopics", lambda r: setattr(r, "Filters", named("topicId", topic_id))).Topics or []
            if not found:
                return [Step(f"CLS topic {topic_id}", False, "CLS_TOPIC_ID names no topic in this region",
                             "empty CLS_TOPIC_ID to let setup create one, or fix it")]
            steps.append(Step(f"CLS topic {topic_id} ({region})", True, "exists: nothing to create"))
        else:
            logsets = call("DescribeLogsets", lambda r: setattr(r, "Filters", named("logsetName", logset_name)))
            match = [s for s in logsets.Logsets or [] if s.LogsetName == logset_name]
            where = f"CLS logset {logset_name} ({region})"
            if match:
                logset_id = match[0].LogsetId
                steps.append(Step(where, True, f"exists ({logset_id}): nothing to create"))
            else:
                logset_id = call("CreateLogset", lambda r: setattr(r, "LogsetName", logset_name)).LogsetId
                steps.append(Step(where, True, f"created ({logset_id})", created=True))

            def topic_filter(r: Any) -> None:
                r.Filters = named("topicName", topic_name) + named("logsetId", logset_id)

            topics = [t for t in call("DescribeTopics", topic_filter).Topics or [] if t.TopicName == topic_name]
            if topics:
                topic_id = topics[0].TopicId
                steps.append(Step(f"CLS topic {topic_name}", True, f"exists ({topic_id}): nothing to create"))
            else:
                def new_topic(r: Any) -> None:
                    r.LogsetId, r.TopicName = logset_id, topic_name

                topic_id = call("CreateTopic", new_topic).TopicId
                steps.append(Step(f"CLS topic {topic_name}", True, f"created ({topic_id})", created=True))
        env.update(CLS_TOPIC_ID=topic_id, CLS_REGION=region)
        steps.append(_index(call, models, topic_id, index_file))
    except TencentCloudSDKException as exc:
        code = exc.get_code() or ""
        fix = ("these keys lack a CLS permission of deploy/cam-policy-operator.json" if
               code.startswith(("AuthFailure", "UnauthorizedOperation")) else "see the CLS error")
        steps.append(Step(f"CLS ({region})", False, f"{code}: {str(exc.get_message())[:200]}", fix))
    return steps


INDEX_NOT_EXIST = "ResourceNotFound.IndexNotExist"


def _index(call: Callable[..., Any], models: Any, topic_id: str, index_file: Path) -> Step:
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

    wanted = models.RuleInfo()
    wanted._deserialize(json.loads(index_file.read_text(encoding="utf-8"))["Rule"])  # the SDK's own model
    name = f"CLS index of {topic_id}"
    try:
        rule = call("DescribeIndex", lambda r: setattr(r, "TopicId", topic_id)).Rule
    except TencentCloudSDKException as exc:
        # "No index" comes either way: Rule null, or ResourceNotFound.IndexNotExist (the finding on
        # DescribeIndex, https://www.tencentcloud.com/document/api/614/56452; the SDK's
        # cls/v20201016/errorcodes.py, RESOURCENOTFOUND_INDEXNOTEXIST)
        if exc.get_code() != INDEX_NOT_EXIST:
            raise
        rule = None
    if rule is None:
        def create(r: Any) -> None:
            r.TopicId, r.Rule, r.Status = topic_id, wanted, True

        call("CreateIndex", create)
        return Step(name, True, f"created from {index_file.name}", created=True)
    if _same(rule, wanted):
        return Step(name, True, f"exists, as {index_file.name}: nothing to create")
    return Step(name, True, f"exists and differs from {index_file.name}: left as it is (setup never changes an "
                "index; apply the file with ModifyIndex if you want its fields searchable)")


def _same(current: Any, wanted: Any) -> bool:
    def normal(rule: Any) -> Any:
        return json.loads(rule.to_json_string())

    return normal(current) == normal(wanted)
