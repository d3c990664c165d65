"""OTLP/HTTP ingest from the real OpenTelemetry SDK exporters, the trace tree, and enrichment."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.json.http.trace_exporter import (
    OTLPSpanExporter as JsonExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as ProtobufExporter,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from tests.conftest import LiveServer


def record_spans(build: Callable[[Any], None]) -> list[ReadableSpan]:
    """Spans made by the real SDK, kept in memory until a test exports them."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "shop-assistant"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    build(provider.get_tracer("tests"))
    provider.shutdown()
    return list(memory.get_finished_spans())


def a_conversation_turn(tracer: Any) -> None:
    with tracer.start_as_current_span(
        "chat", attributes={"plaudit.capability": "support-agent", "gen_ai.conversation.id": "c-1"}
    ):
        with tracer.start_as_current_span("retrieve", attributes={"plaudit.step": "retrieve"}):
            pass
        with tracer.start_as_current_span(
            "respond",
            attributes={
                "plaudit.capability": "support-agent",
                "plaudit.step": "respond",
                "gen_ai.request.model": "gpt-x",
                "gen_ai.usage.output_tokens": 42,
                "llm.temperature": 0.2,
                "flags": ["a", "b"],
                "streamed": True,
            },
        ) as span:
            span.add_event("first-token", {"ms": 120})
            span.set_status(Status(StatusCode.ERROR, "upstream timeout"))


def ids(span: ReadableSpan) -> tuple[str, str]:
    context = span.get_span_context()
    assert context is not None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def exporter(kind: str, server: LiveServer, gzip: bool) -> Any:
    endpoint = f"{server.url}/v1/traces"
    headers = {"authorization": f"Bearer {server.otlp_token}"}
    if kind == "protobuf":
        compression = Compression.Gzip if gzip else Compression.NoCompression
        return ProtobufExporter(endpoint=endpoint, headers=headers, compression=compression)
    from opentelemetry.exporter.otlp.common.http import Compression as JsonCompression

    compression = JsonCompression.GZIP if gzip else JsonCompression.NONE
    return JsonExporter(endpoint=endpoint, headers=headers, compression=compression)


def find(spans: list[dict[str, Any]], name: str) -> dict[str, Any]:
    for span in spans:
        if span["name"] == name:
            return span
        if found := find(span["children"], name) if span["children"] else None:
            return found
    raise AssertionError(f"no span {name}")


@pytest.mark.parametrize("kind", ["protobuf", "json"])
@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_real_exporters_store_a_queryable_tree(
    live_server: LiveServer, api: httpx.Client, kind: str, gzip: bool
) -> None:
    spans = record_spans(a_conversation_turn)
    result = exporter(kind, live_server, gzip).export(spans)
    assert result is SpanExportResult.SUCCESS

    trace_id, _ = ids(spans[0])
    tree = api.get(f"/v1/traces/{trace_id}").json()
    assert [root["name"] for root in tree["spans"]] == ["chat"]
    assert sorted(c["name"] for c in tree["spans"][0]["children"]) == ["respond", "retrieve"]
    respond = find(tree["spans"], "respond")
    assert respond["attributes"]["gen_ai.usage.output_tokens"] == 42
    assert respond["attributes"]["flags"] == ["a", "b"]
    assert respond["attributes"]["streamed"] is True
    assert respond["status_code"] == "error" and respond["status_message"] == "upstream timeout"
    assert respond["events"][0]["name"] == "first-token"
    assert respond["capability"] == "support-agent" and respond["step"] == "respond"
    assert respond["duration_ms"] >= 0
    assert find(tree["spans"], "chat")["resource"]["service.name"] == "shop-assistant"


def test_feedback_waits_for_its_span_then_links(live_server: LiveServer, api: httpx.Client) -> None:
    spans = record_spans(a_conversation_turn)
    respond = next(s for s in spans if s.name == "respond")
    trace_id, span_id = ids(respond)
    event = {"id": f"fb-{span_id}", "name": "response-quality", "span_id": span_id, "value": -1}
    assert api.post("/v1/feedback", json=event).json()["results"][0]["status"] == "created"
    assert api.get(f"/v1/feedback/fb-{span_id}").json()["link_status"] == "pending"

    assert exporter("protobuf", live_server, False).export(spans) is SpanExportResult.SUCCESS

    linked = api.get(f"/v1/feedback/fb-{span_id}").json()
    assert linked["link_status"] == "linked"
    assert linked["trace_id"] == trace_id
    assert (linked["capability"], linked["step"]) == ("support-agent", "respond")
    tree = api.get(f"/v1/traces/{trace_id}").json()
    assert [f["id"] for f in find(tree["spans"], "respond")["feedback"]] == [f"fb-{span_id}"]


def test_evaluation_result_events_become_evaluator_feedback(
    live_server: LiveServer, api: httpx.Client
) -> None:
    def judged(tracer: Any) -> None:
        with tracer.start_as_current_span("answer") as span:
            span.add_event(
                "gen_ai.evaluation.result",
                {
                    "gen_ai.evaluation.name": "relevance",
                    "gen_ai.evaluation.score.value": 0.25,
                    "gen_ai.evaluation.explanation": "talks about something else",
                },
            )

    spans = record_spans(judged)
    assert exporter("json", live_server, False).export(spans) is SpanExportResult.SUCCESS
    _, span_id = ids(spans[0])
    items = api.get("/v1/feedback", params={"span_id": span_id}).json()["items"]
    assert [(i["name"], i["value"], i["source"]) for i in items] == [
        ("relevance", 0.25, "evaluator")
    ]
    assert items[0]["comment"] == "talks about something else"
    assert items[0]["link_status"] == "linked"
    # exporting the same span again does not duplicate the evaluation
    assert exporter("json", live_server, False).export(spans) is SpanExportResult.SUCCESS
    assert len(api.get("/v1/feedback", params={"span_id": span_id}).json()["items"]) == 1


def test_bad_spans_are_rejected_one_by_one(live_server: LiveServer) -> None:
    spans = record_spans(a_conversation_turn)
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    request = encode_spans(spans)
    request.resource_spans[0].scope_spans[0].spans[0].span_id = b"\x00" * 8
    response = httpx.post(
        f"{live_server.url}/v1/traces",
        content=request.SerializeToString(),
        headers={
            "content-type": "application/x-protobuf",
            "authorization": f"Bearer {live_server.otlp_token}",
        },
    )
    assert response.status_code == 200
    answer = trace_service_pb2.ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1
    assert answer.partial_success.error_message


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/x-protobuf", b"\xff\xff\xff garbage", 400),
        ("application/json", b"{not json", 400),
        ("text/csv", b"a,b", 415),
    ],
)
def test_undecodable_bodies_answer_a_google_rpc_status(
    live_server: LiveServer, content_type: str, body: bytes, status: int
) -> None:
    response = httpx.post(
        f"{live_server.url}/v1/traces",
        content=body,
        headers={"content-type": content_type, "authorization": f"Bearer {live_server.otlp_token}"},
    )
    assert response.status_code == status
    if content_type == "application/x-protobuf":
        assert status_pb2.Status.FromString(response.content).message
    elif content_type == "application/json":
        assert response.json()["message"]


def test_otlp_needs_a_token_with_traces_write(live_server: LiveServer) -> None:
    body = trace_service_pb2.ExportTraceServiceRequest().SerializeToString()
    headers = {"content-type": "application/x-protobuf"}
    assert (
        httpx.post(f"{live_server.url}/v1/traces", content=body, headers=headers).status_code == 401
    )
    browser = {**headers, "authorization": f"Bearer {live_server.browser_token}"}
    assert (
        httpx.post(f"{live_server.url}/v1/traces", content=body, headers=browser).status_code == 403
    )


def test_patch_merges_and_never_overwrites(live_server: LiveServer, api: httpx.Client) -> None:
    spans = record_spans(a_conversation_turn)
    exporter("protobuf", live_server, False).export(spans)
    respond = next(s for s in spans if s.name == "respond")
    trace_id, span_id = ids(respond)

    first = {
        "feedback": {"quality": {"accuracy": 1}},
        "attributes": {"ticket": "T-1"},
        "tags": ["vip"],
    }
    second = {
        "feedback": {"quality": {"tone": 0}},
        "attributes": {"queue": "billing"},
        "tags": ["escalated"],
    }
    assert api.patch(f"/v1/spans/{span_id}", json=first).status_code == 200
    merged = api.patch(f"/v1/spans/{span_id}", json=second).json()
    assert merged["feedback"] == {"quality": {"accuracy": 1, "tone": 0}}
    assert merged["tags"] == ["escalated", "vip"]

    tree = api.get(f"/v1/traces/{trace_id}").json()
    span = find(tree["spans"], "respond")
    assert span["attributes"]["ticket"] == "T-1" and span["attributes"]["queue"] == "billing"
    assert span["attributes"]["gen_ai.request.model"] == "gpt-x"  # OTLP attributes kept
    recorded = [f for f in span["feedback"] if f["name"] == "enrichment"]
    assert sorted(f["value"]["quality"].popitem()[0] for f in recorded) == ["accuracy", "tone"]

    trace_patch = api.patch(
        f"/v1/traces/{trace_id}", json={"tags": ["reviewed"], "attributes": {"a": 1}}
    )
    assert trace_patch.json()["tags"] == ["reviewed"]
    assert api.get(f"/v1/traces/{trace_id}").json()["tags"] == ["reviewed"]
