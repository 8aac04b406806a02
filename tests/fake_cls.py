"""A CLS look-alike: checks TC3-HMAC-SHA256, decodes the LogGroupList body with the repo's protobuf."""

from __future__ import annotations

import json

from cssai.sinks.cls_pb2 import LogGroupList
from tests import tc3
from tests.fake_http import FaultyHandler, FaultyServer


class ClsHandler(FaultyHandler):
    server: ClsServer

    def _error(self, code: str, message: str) -> None:
        body = json.dumps({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "fake"}})
        self.answer(200, body.encode(), "application/json")

    def _authorised(self, payload: bytes) -> bool:
        server = self.server
        return tc3.verify(self.headers, payload, "cls", server.secret_id, server.secret_key, server.token)

    def do_POST(self) -> None:
        payload = self.read_body()
        action = self.headers.get("X-TC-Action", "")
        if action in JSON_ACTIONS:
            self.target = action
            if self.apply_fault(action):
                return
            if not self._authorised(payload):
                self._error("AuthFailure.SignatureFailure", "signature mismatch")
                return
            result = JSON_ACTIONS[action](self.server, json.loads(payload or b"{}"))
            if isinstance(result, str):
                self._error(result, "refused by the fake")
                return
            self.answer(200, json.dumps({"Response": {**result, "RequestId": "fake"}}).encode(), "application/json")
            return
        topic = self.headers.get("X-CLS-TopicId", "")
        with self.server.lock:
            self.server.raw.append(({k.lower(): v for k, v in self.headers.items()}, payload))
        groups = LogGroupList()
        try:
            groups.ParseFromString(payload)
        except Exception:  # refused below as the real service would, after auth
            groups = LogGroupList()
        records = [
            {"time_ms": log.time, **{c.key: c.value for c in log.contents}}
            for group in groups.logGroupList
            for log in group.logs
        ]
        first_event = records[0].get("event_id", "") if records else ""
        if self.apply_fault(f"{topic}/{first_event}"):  # faults can aim at one event's upload
            return
        if self.headers.get("X-TC-Action") != "UploadLog":
            self._error("InvalidAction", "only UploadLog")
            return
        if not self._authorised(payload):
            self._error("AuthFailure.SignatureFailure", "signature mismatch")
            return
        refusal = self.server.refuse.get(topic)
        if refusal:
            self._error(refusal, "refused by the test")
            return
        with self.server.lock:
            self.server.uploads.append((topic, records))
        self.answer(200, json.dumps({"Response": {"RequestId": "fake"}}).encode(), "application/json")


def _named(filters: list[dict], key: str) -> set[str]:
    return {v for f in filters or [] if f.get("Key") == key for v in f.get("Values", [])}


def _describe_logsets(server: ClsServer, req: dict) -> dict:
    names = _named(req.get("Filters"), "logsetName")
    found = [{"LogsetId": i, "LogsetName": n} for i, n in server.logsets.items() if not names or n in names]
    return {"Logsets": found, "TotalCount": len(found)}


def _create_logset(server: ClsServer, req: dict) -> dict | str:
    if not req.get("LogsetName"):
        return "MissingParameter"
    logset = f"logset-{len(server.logsets) + 1}"
    server.logsets[logset] = req["LogsetName"]
    server.calls.append("CreateLogset")
    return {"LogsetId": logset}


def _describe_topics(server: ClsServer, req: dict) -> dict:
    names, ids, logsets = (_named(req.get("Filters"), k) for k in ("topicName", "topicId", "logsetId"))
    found = [{"TopicId": t, "TopicName": n, "LogsetId": ls} for t, (ls, n) in server.topics.items()
             if (not names or n in names) and (not ids or t in ids) and (not logsets or ls in logsets)]
    return {"Topics": found, "TotalCount": len(found)}


def _create_topic(server: ClsServer, req: dict) -> dict | str:
    if req.get("LogsetId") not in server.logsets:
        return "ResourceNotFound.LogsetNotExist"
    topic = f"topic-{len(server.topics) + 1}"
    server.topics[topic] = (req["LogsetId"], req["TopicName"])
    server.calls.append("CreateTopic")
    return {"TopicId": topic}


def _describe_index(server: ClsServer, req: dict) -> dict | str:
    if req.get("TopicId") not in server.topics:
        return "ResourceNotFound.TopicNotExist"
    rule = server.indexes.get(req["TopicId"])
    if rule is None and server.no_index_as_error:
        return "ResourceNotFound.IndexNotExist"  # the other way CLS says a topic has no index
    return {"TopicId": req["TopicId"], "Status": rule is not None, "Rule": rule}


def _create_index(server: ClsServer, req: dict) -> dict | str:
    if req.get("TopicId") not in server.topics:
        return "ResourceNotFound.TopicNotExist"
    if req["TopicId"] in server.indexes:
        return "ResourceInUse.Index"
    server.indexes[req["TopicId"]] = req.get("Rule")
    server.calls.append("CreateIndex")
    return {}


JSON_ACTIONS = {"DescribeLogsets": _describe_logsets, "CreateLogset": _create_logset,
                "DescribeTopics": _describe_topics, "CreateTopic": _create_topic,
                "DescribeIndex": _describe_index, "CreateIndex": _create_index}


class ClsServer(FaultyServer):
    def __init__(self, secret_id: str, secret_key: str, token: str | None = None) -> None:
        super().__init__(ClsHandler)
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.token = token
        self.uploads: list[tuple[str, list[dict]]] = []
        self.refuse: dict[str, str] = {}  # topic -> an error code every upload to it gets
        self.logsets: dict[str, str] = {}  # id -> name (setup's tests)
        self.topics: dict[str, tuple[str, str]] = {}  # id -> (logset id, name)
        self.indexes: dict[str, dict | None] = {}  # topic id -> the Rule it was given
        self.no_index_as_error = False  # DescribeIndex of a topic without an index: an error, not Rule null
        self.calls: list[str] = []  # the Create* actions, in order
        self.raw: list[tuple[dict[str, str], bytes]] = []  # every UploadLog request: headers and body

    def records(self, topic: str | None = None) -> list[dict]:
        with self.lock:
            return [r for t, batch in self.uploads if topic in (None, t) for r in batch]
