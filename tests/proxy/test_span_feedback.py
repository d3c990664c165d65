"""Feedback set as span attributes (`user_feedback`…) becomes feedback events, counted once."""

from typing import Any

import pytest
from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter as JsonExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as ProtobufExporter,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from tests.conftest import LiveServer
from tests.server.test_traces_api import record_spans

RATED = {
    "plaudit.capability": "support-agent",
    "enduser.id": "user-5",
    "user_feedback": "negative",
    "user_feedback_rating": 2,
    "user_feedback_comment": "It invented a refund policy",
    "user_feedback_category": "incorrect",
    "feedback_reason": "wrong_policy",
}


def rated_span(attributes: dict[str, Any]) -> ReadableSpan:
    def build(tracer: Any) -> None:
        with tracer.start_as_current_span("respond", attributes=attributes):
            pass

    (span,) = record_spans(build)
    return span


def by_name(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {event["name"]: event for event in events}


@pytest.mark.parametrize("exporter_type", [ProtobufExporter, JsonExporter])
def test_exported_attributes_become_feedback_once_however_often_sent(
    live_server: LiveServer, exporter_type: Any
) -> None:
    span = rated_span(RATED)
    exporter = exporter_type(
        endpoint=f"{live_server.url}/v1/traces",
        headers={"authorization": f"Bearer {live_server.otlp_token}"},
    )
    for _ in range(3):
        assert exporter.export([span]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    context = span.get_span_context()
    trace_id, span_id = f"{context.trace_id:032x}", f"{context.span_id:016x}"
    with live_server.client() as api:
        events = api.get("/v1/feedback", params={"span_id": span_id}).json()["items"]
    found = by_name(events)
    assert sorted(found) == [
        "feedback_reason", "user_feedback", "user_feedback_category", "user_feedback_rating",
    ]  # fmt: skip
    thumb = found["user_feedback"]
    assert (thumb["kind"], thumb["value"], thumb["comment"]) == (
        "thumb", -1, "It invented a refund policy",
    )  # fmt: skip
    assert (thumb["source"], thumb["user_id"], thumb["trace_id"]) == (
        "end_user",
        "user-5",
        trace_id,
    )
    assert thumb["capability"] == "support-agent" and thumb["link_status"] == "linked"
    assert (found["user_feedback_rating"]["kind"], found["user_feedback_rating"]["value"]) == (
        "number", 2,
    )  # fmt: skip
    assert found["user_feedback_category"]["kind"] == "enum"
    assert found["user_feedback_category"]["value"] == "incorrect"
    assert found["feedback_reason"]["value"] == "wrong_policy"


def test_patch_attributes_revise_the_same_events(live_server: LiveServer) -> None:
    span = rated_span({"user_feedback": "negative"})
    exporter = ProtobufExporter(
        endpoint=f"{live_server.url}/v1/traces",
        headers={"authorization": f"Bearer {live_server.otlp_token}"},
    )
    assert exporter.export([span]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    span_id = f"{span.get_span_context().span_id:016x}"
    with live_server.client() as api:
        patch = {"attributes": {"user_feedback": "positive", "user_feedback_comment": "fixed"}}
        for _ in range(2):
            answer = api.patch(f"/v1/spans/{span_id}", json=patch)
            assert answer.status_code == 200, answer.text
        assert [r["status"] for r in answer.json()["attribute_feedback"]] == ["duplicate"]
        (event,) = api.get("/v1/feedback", params={"span_id": span_id}).json()["items"]
        assert (event["value"], event["comment"]) == (1, "fixed")
        history = api.get(f"/v1/feedback/{event['id']}").json()["history"]
        assert [version["content"]["value"] for version in history] == [-1]

        only_comment = api.patch(
            f"/v1/spans/{span_id}", json={"attributes": {"user_feedback_comment": "again"}}
        )
        assert only_comment.json()["attribute_feedback"][0]["status"] == "created"
        events = api.get("/v1/feedback", params={"span_id": span_id}).json()["items"]
        assert by_name(events)["user_feedback_comment"]["value"] == "again"


def test_a_thumb_that_is_neither_positive_nor_negative_is_skipped(live_server: LiveServer) -> None:
    span = rated_span({"user_feedback": "meh", "user_feedback_rating": 4})
    exporter = ProtobufExporter(
        endpoint=f"{live_server.url}/v1/traces",
        headers={"authorization": f"Bearer {live_server.otlp_token}"},
    )
    assert exporter.export([span]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    span_id = f"{span.get_span_context().span_id:016x}"
    with live_server.client() as api:
        events = api.get("/v1/feedback", params={"span_id": span_id}).json()["items"]
    assert [(e["name"], e["value"]) for e in events] == [("user_feedback_rating", 4)]
