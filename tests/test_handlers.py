"""Handlers are pure: a body and a context in, a plan out. No sink, clock or env needed."""

from __future__ import annotations

import dataclasses
import json

import pytest
from pydantic import ValidationError

from cssai.identity import event_seconds
from cssai.writes import Plan
from handlers import ROUTES, erasing, handler_for, highlight, quality
from handlers.base import HandlerContext
from tests.conftest import sample

CTX = HandlerContext(event_id="e" * 64, thresholds={"PSNR": 30.0, "VMAF": 70.0})


def ctx(body: dict, base: HandlerContext = CTX) -> HandlerContext:
    """The context the pipeline gives: the event's own time read once (identity.event_seconds)."""
    return dataclasses.replace(base, seconds=event_seconds(body))


def objects(plan: Plan) -> dict[str, dict]:
    return {o.key: json.loads(o.body) for o in plan.objects if o.key.endswith(".json")}


def kinds(plan: Plan) -> list[str]:
    return [r.fields["kind"] for r in plan.all_records()]


def test_routes_cover_every_callback_css_sends() -> None:
    assert set(ROUTES) == {0, 1, 100, 200, 314, 315, 317, 321, 332, 338, 341, 343, 344, 345, 347, 348, 349}
    assert handler_for(344) is quality.plan_threshold and handler_for(345) is quality.plan_average
    assert handler_for(347) is erasing.plan and handler_for(349) is highlight.plan


def test_344_alert_and_one_record_per_frame() -> None:
    plan = quality.plan_threshold(sample(344), ctx(sample(344)))
    (key, alert), = objects(plan).items()
    assert key == f"alerts/quality/livestream1/2025-07-10/PSNR-1752130787-{'e' * 16}.json"
    assert alert["min_score"] == 22.78 and alert["frame_count"] == 2
    assert (alert["first_frame_ms"], alert["last_frame_ms"]) == (1752130785280, 1752130786281)
    assert kinds(plan) == ["quality_alert", "quality_frame", "quality_frame"]
    frames = [r for r in plan.all_records() if r.fields["kind"] == "quality_frame"]
    assert [(r.time_ms, r.fields["score"]) for r in frames] == [(1752130785280, "22.78"), (1752130786281, "32.75")]
    assert plan.records[0].time_ms == 1752130787000


@pytest.mark.parametrize("metric", ["PSNR", "SSIM", "VMAF", "VQA"])
def test_344_accepts_every_evaluation_class(metric: str) -> None:
    plan = quality.plan_threshold({**sample(344), "class": metric}, ctx({**sample(344), "class": metric}))
    assert plan.records[0].fields["class"] == metric


def test_345_report_and_alert_under_threshold() -> None:
    plan = quality.plan_average(sample(345), ctx(sample(345)))
    docs = objects(plan)
    report = docs[f"reports/quality/livestream1/2025-07-10/PSNR-1752130787-{'e' * 16}.json"]
    assert report["average_score"] == 27.765 and report["below_threshold"] is True and report["threshold"] == 30.0
    assert f"alerts/quality/livestream1/2025-07-10/PSNR-avg-1752130787-{'e' * 16}.json" in docs
    assert kinds(plan) == ["quality_report", "quality_alert", "quality_frame", "quality_frame"]


def test_345_no_alert_above_threshold_or_without_one() -> None:
    above = quality.plan_average({**sample(345), "average_score": 45.0}, ctx({**sample(345), "average_score": 45.0}))
    assert [k.split("/")[0] for k in objects(above)] == ["reports"]
    unknown = quality.plan_average({**sample(345), "class": "VQA"}, ctx({**sample(345), "class": "VQA"}))
    assert "quality_alert" not in kinds(unknown)


def test_345_sample_saying_344_is_refused_by_the_345_model() -> None:
    with pytest.raises(ValidationError):
        quality.plan_average(bad := {**sample(345), "event_type": 344, "average_score": "n/a"}, ctx(bad))


def test_347_transcript_vtt_and_records() -> None:
    plan = erasing.plan(sample(347), ctx(sample(347)))
    keys = sorted(o.key for o in plan.objects)
    assert keys == [
        f"transcripts/teststream/2025-06-20/7735333-954864-{'e' * 16}.json",
        f"transcripts/teststream/2025-06-20/7735333-954864-{'e' * 16}.vtt",
    ]
    vtt = next(o for o in plan.objects if o.key.endswith(".vtt")).body.decode()
    assert vtt.startswith("WEBVTT") and "00:15:54.864 --> 00:16:04.464" in vtt
    assert kinds(plan) == ["subtitle", "keyword_hit"]
    hit = list(plan.all_records())[1]
    assert hit.fields["word"] == "Central Commission for Discipline Inspection"
    assert hit.time_ms == 1750402588000 + (957759 - 954864)


def test_349_one_clip_per_item() -> None:
    body = sample(349)
    body["items"].append({**body["items"][0], "begin_time": 1761128900, "end_time": 1761128930, "title": "two"})
    plan = highlight.plan(body, ctx(body))
    docs = objects(plan)
    assert sorted(docs) == [
        "highlights/test1820/2025-10-22/1761128808-1761128834-eeeeeeeeeeeeeeee.json",
        "highlights/test1820/2025-10-22/1761128900-1761128930-eeeeeeeeeeeeeeee.json",
    ]
    clip = docs["highlights/test1820/2025-10-22/1761128808-1761128834-eeeeeeeeeeeeeeee.json"]
    assert clip["title"].startswith("Bed sheets") and clip["key_words"][0] == "25 yuan"
    assert clip["video_store_url"].endswith(".mp4") and clip["event_id"] == "e" * 64
    assert kinds(plan) == ["highlight", "highlight"]
    assert next(plan.all_records()).fields["key_words"].startswith("25 yuan,Link number one")
    assert plan.copies == []


def test_models_tolerate_unknown_fields_and_missing_optionals() -> None:
    body = {"event_type": 349, "stream_id": "s", "items": [{"begin_time": 1, "end_time": 2, "new_field": {"x": 1}}],
            "future": True}
    plan = highlight.plan(body, ctx(body))
    assert len(plan.objects) == 1
    minimal = {"event_type": 347, "stream_id": "s"}
    assert list(erasing.plan(minimal, ctx(minimal)).all_records()) == []


@pytest.mark.parametrize(
    ("event_type", "change"),
    [
        (344, {"frames": [{"score": "high", "time": 1}]}),
        (344, {"stream_id": ""}),
        (344, {"event_time": -1}),
        (347, {"data": {"subtitle_tmp_res": "text"}}),
        (349, {"items": [{"begin_time": "yesterday", "end_time": 2}]}),
        (349, {"items": {"begin_time": 1}}),
        (349, {"stream_id": ["a"]}),
    ],
)
def test_invalid_bodies_raise_validation_errors(event_type: int, change: dict) -> None:
    with pytest.raises(ValidationError):
        body = {**sample(event_type), **change}
        handler_for(event_type)(body, ctx(body))


def test_media_copy_only_from_allowlisted_hosts() -> None:
    hosts = frozenset({"your.cos.ap-nanjing.myqcloud.com"})
    allowed = ctx(sample(349), HandlerContext(event_id="e" * 64, media_hosts=hosts))
    plan = highlight.plan(sample(349), allowed)
    (copy,) = plan.copies
    assert (copy.source_bucket, copy.source_region) == ("your", "ap-nanjing")
    assert copy.source_key.startswith("SmartHighlights/")
    assert copy.key == "highlights/test1820/2025-10-22/1761128808-1761128834-eeeeeeeeeeeeeeee.mp4"
    other = HandlerContext(event_id="e" * 64, media_hosts=frozenset({"mine.cos.ap-guangzhou.myqcloud.com"}))
    assert highlight.plan(sample(349), other).copies == []
