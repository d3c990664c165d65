"""Messages exported by OpenInference-style instrumentation show in the trace view (both stores)."""

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from plaudit.console.views.trace import span_rows
from tests.conftest import LiveServer


def test_openinference_messages_reach_the_trace_view(
    live_server: LiveServer, api: httpx.Client
) -> None:
    exporter = OTLPSpanExporter(
        endpoint=f"{live_server.url}/v1/traces",
        headers={"authorization": f"Bearer {live_server.otlp_token}"},
    )
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    attributes = {
        "openinference.span.kind": "LLM",
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": "Where is my order?",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": "It ships today.",
    }
    with provider.get_tracer("tests").start_as_current_span("llm", attributes=attributes) as span:
        trace_id = f"{span.get_span_context().trace_id:032x}"
    provider.shutdown()

    (row,) = span_rows(api.get(f"/v1/traces/{trace_id}").json(), None)
    assert [(m.role, m.text) for m in row.inputs] == [("user", "Where is my order?")]
    assert [(m.role, m.text) for m in row.outputs] == [("assistant", "It ships today.")]
    assert [key for key, _ in row.attributes] == ["openinference.span.kind"]
