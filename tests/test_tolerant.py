"""Tolerant reading (DESIGN.md): ``null`` means absent, and a body's own field names never shadow the receiver's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cssai.identity import event_id
from tests.conftest import SAMPLES, Invoke, local_records, sample, tree

Path_ = tuple[Any, ...]


def paths(value: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every member of every object in ``value``, at any depth (list entries included)."""
    if isinstance(value, dict):
        for key, member in value.items():
            yield (*prefix, key)
            yield from paths(member, (*prefix, key))
    elif isinstance(value, list):
        for index, member in enumerate(value[:3]):
            yield from paths(member, (*prefix, index))


def with_null(body: dict[str, Any], path: Path_) -> dict[str, Any]:
    copy = json.loads(json.dumps(body))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = None
    return copy


NULL_CASES = [(t, p) for t in sorted(SAMPLES) for p in paths(sample(t)) if p != ("event_type",)]


@pytest.mark.parametrize(("event_type", "path"), NULL_CASES,
                         ids=[f"{t}:{'.'.join(map(str, p))}" for t, p in NULL_CASES])
def test_null_anywhere_is_absent_and_stored(invoke: Invoke, sink: Path, event_type: int, path: Path_) -> None:
    body = with_null(sample(event_type), path)
    answer = invoke(body)
    assert answer["statusCode"] == 200, answer
    assert not (sink / "cos" / "deadletter").exists()
    assert any(k.startswith(f"events/{event_type}/") for k in tree(sink / "cos"))


def test_null_event_type_is_an_unknown_type_archived(invoke: Invoke, sink: Path) -> None:
    assert invoke({**sample(349), "event_type": None})["statusCode"] == 200
    assert any(k.startswith("events/None/") or k.startswith("events/") for k in tree(sink / "cos"))


def test_null_entries_of_a_list_are_skipped(invoke: Invoke, sink: Path) -> None:
    body = sample(349)
    body["items"] = [None, *body["items"], None]
    assert invoke(body)["statusCode"] == 200
    assert len([r for r in local_records(sink) if r["kind"] == "highlight"]) == len(sample(349)["items"])


RESERVED = ("kind", "event_id", "event_type", "stream_id", "time_ms", "alert", "record_time_out_of_range",
            "_kind", "_event_id", "_x", "x", "__", "_", "", "键", "a" * 300, "a b", "a.b", "-x", "1x")


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_a_bodys_own_names_never_shadow_the_receivers(invoke: Invoke, sink: Path, event_type: int) -> None:
    body = sample(event_type)
    stream = body.get("stream_id", body.get("streamId"))
    hostile = {name: f"from-body-{i}" for i, name in enumerate(RESERVED) if name not in body}
    body.update(hostile)
    for item in body.get("items") or []:
        item.update(event_id="item-event-id", stream_id="item-stream", kind="item-kind")
    answer = invoke(body)
    assert answer["statusCode"] == 200, answer
    eid = event_id(body)
    records = [r for r in local_records(sink) if r["event_id"] == eid]
    assert records
    for rec in records:
        assert rec["kind"] != "from-body" and not rec["kind"].startswith("from-body")
        assert rec["event_type"] == str(event_type)
        assert not str(rec.get("stream_id", "")).startswith("from-body")
        assert "record_time_out_of_range" not in rec
        assert not str(rec.get("alert", "")).startswith("from-body")
        assert isinstance(rec["time_ms"], int)  # the local sink's record time, not a field
        for name in rec:
            assert name == "time_ms" or valid_cls_key(name), name
    for key, raw in tree(sink / "cos").items():
        if key.startswith(("events/", "markers/")) or not key.endswith(".json"):
            continue
        doc = json.loads(raw)
        if isinstance(doc, dict) and "event_id" in doc:
            assert doc["event_id"] == eid, key
            assert doc.get("kind", "").startswith("from-body") is False, key
            if "stream_id" in doc and event_type != 314:
                assert doc["stream_id"] == stream, key


def valid_cls_key(name: str) -> bool:
    from cssai.sinks.cls import valid_key

    return valid_key(name)


def test_records_name_extras_apart_and_keep_what_cls_allows(invoke: Invoke, sink: Path) -> None:
    body = {**sample(1), "idc_id": 38, "kind": "mine", "键": "v", "_hidden": "h"}
    assert invoke(body)["statusCode"] == 200
    (rec,) = local_records(sink)
    assert rec["kind"] == "stream_start"
    assert rec["x_idc_id"] == "38" and rec["x_kind"] == "mine"
    assert "x__hidden" in rec or "x_hidden" in rec
    doc = next(json.loads(v) for k, v in tree(sink / "cos").items() if k.startswith("streams/"))
    assert doc["extras"] == {"idc_id": 38, "kind": "mine", "键": "v", "_hidden": "h"}
    assert "kind" not in doc


def test_a_very_long_integer_is_kept_not_refused(sink: Path) -> None:
    """Python refuses to convert more than 4,300 digits; JSON has no such limit."""
    import index
    from cssai.ops import events
    from tests.conftest import KEY

    big = "9" * 5000
    text = json.dumps(events.signed(sample(1), KEY))[:-1] + f', "huge": {big}, "neg": -{big}}}'
    answer = index.main_handler(events.wrap(text.encode(), "apigw"), {"time_limit_in_ms": 30000})
    assert answer["statusCode"] == 200, answer
    (archived,) = [v for k, v in tree(sink / "cos").items() if k.startswith("events/1/")]
    assert archived == text.encode()
    doc = next(json.loads(v) for k, v in tree(sink / "cos").items() if k.startswith("streams/"))
    assert doc["extras"]["huge"] == big and doc["extras"]["neg"] == "-" + big
