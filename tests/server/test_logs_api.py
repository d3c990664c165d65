"""`POST /v1/logs`: GenAI events exported as OTLP logs by the OpenTelemetry SDK become the input
and output messages of their span (both stores)."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from opentelemetry._logs import Logger
from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter as JsonLogs
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as ProtoLogs
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from plaudit.console.views.trace import span_rows
from tests.conftest import LiveServer

EXPORTERS = {"protobuf": ProtoLogs, "json": JsonLogs}


def a_model_call(live_server: LiveServer, exporter: type[Any]) -> tuple[str, Callable[[], None]]:
    """An instrumented chat call: its span, and the GenAI events its instrumentation logs."""
    headers = {"authorization": f"Bearer {live_server.otlp_token}"}
    tracing = TracerProvider()
    tracing.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(f"{live_server.url}/v1/traces", headers=headers))
    )
    logging = LoggerProvider()
    logging.add_log_record_processor(
        SimpleLogRecordProcessor(exporter(endpoint=f"{live_server.url}/v1/logs", headers=headers))
    )
    logger: Logger = logging.get_logger("openai-v2-like")

    def emit() -> None:
        logger.emit(event_name="gen_ai.system.message", body={"content": "Be brief."})
        logger.emit(event_name="gen_ai.user.message", body={"content": "Where is my order?"})
        logger.emit(
            event_name="gen_ai.choice",
            body={"index": 0, "finish_reason": "stop",
                  "message": {"role": "assistant", "content": "It ships today."}},
        )  # fmt: skip
        logger.emit(body="an ordinary log line")  # not a GenAI event: not stored

    with tracing.get_tracer("tests").start_as_current_span("chat gpt-x") as span:
        trace_id = f"{span.get_span_context().trace_id:032x}"
        emit()
    tracing.shutdown()

    def resend() -> None:
        with tracing.get_tracer("tests").start_as_current_span("unused"):
            pass

    logging.shutdown()
    return trace_id, resend


@pytest.mark.parametrize("encoding", sorted(EXPORTERS))
def test_genai_events_become_the_spans_messages(
    live_server: LiveServer, api: httpx.Client, encoding: str
) -> None:
    trace_id, _ = a_model_call(live_server, EXPORTERS[encoding])
    tree = api.get(f"/v1/traces/{trace_id}").json()
    (row,) = span_rows(tree, None)
    assert [(m.role, m.text) for m in row.inputs] == [
        ("system", "Be brief."),
        ("user", "Where is my order?"),
    ]
    assert [(m.role, m.text) for m in row.outputs] == [("assistant", "It ships today.")]
    output = tree["spans"][0]["attributes"]["gen_ai.output.messages"]
    assert output[0]["finish_reason"] == "stop"
    metrics = api.get("/metrics").text
    assert 'plaudit_log_records_total{status="ignored"}' in metrics


def test_a_record_sent_again_is_stored_once_and_one_without_a_span_is_rejected(
    live_server: LiveServer, api: httpx.Client
) -> None:
    trace, span = "5" * 32, "6" * 16
    record = {
        "timeUnixNano": "1700000000000000000", "traceId": trace, "spanId": span,
        "eventName": "gen_ai.user.message",
        "body": {"kvlistValue": {"values": [{"key": "content", "value": {"stringValue": "hi"}}]}},
    }  # fmt: skip
    orphan = {**record, "traceId": "", "spanId": ""}
    body = {"resourceLogs": [{"scopeLogs": [{"logRecords": [record, record, orphan]}]}]}
    headers = {"authorization": f"Bearer {live_server.otlp_token}"}
    for _ in range(2):
        answer = httpx.post(f"{live_server.url}/v1/logs", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["partialSuccess"]["rejectedLogRecords"] == "1"
    spans = {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": trace, "spanId": span, "name": "chat", "kind": 3,
        "startTimeUnixNano": "1", "endTimeUnixNano": "2"}]}]}]}  # fmt: skip
    assert httpx.post(f"{live_server.url}/v1/traces", json=spans, headers=headers).is_success
    attributes = api.get(f"/v1/traces/{trace}").json()["spans"][0]["attributes"]
    assert [m["parts"][0]["content"] for m in attributes["gen_ai.input.messages"]] == ["hi"]


def test_logs_follow_otlp_errors(live_server: LiveServer) -> None:
    headers = {"authorization": f"Bearer {live_server.otlp_token}"}
    bad = httpx.post(
        f"{live_server.url}/v1/logs",
        content=b"not json",
        headers={**headers, "content-type": "application/json"},
    )
    assert bad.status_code == 400 and "code" in bad.json()
    browser = httpx.post(
        f"{live_server.url}/v1/logs",
        json={"resourceLogs": []},
        headers={"authorization": f"Bearer {live_server.browser_token}"},
    )
    assert browser.status_code == 403
