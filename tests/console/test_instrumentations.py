"""GenAI content from instrumentations nobody here wrote reaches the span, in the API and in the
console: OpenTelemetry's `opentelemetry-instrumentation-openai-v2` (messages as GenAI events in
OTLP logs) and OpenInference's `openinference-instrumentation-openai` (messages as span
attributes), each driving the official `openai` client against a fake OpenAI server on loopback,
exported by the stock OTLP exporters over HTTP and over gRPC, configured only by the
`OTEL_EXPORTER_OTLP_*` environment variables an app would set."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
from openinference.instrumentation.openai import OpenAIInstrumentor as OpenInference
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as OpenAIV2
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from playwright.sync_api import Browser, expect

from plaudit.core.genai import message_text, span_messages
from plaudit.settings import Settings
from tests.conftest import free_port, make_tokens, serving, serving_app
from tests.console.conftest import VIEWPORT
from tests.proxy.fake_upstream import FakeUpstream

QUESTION = "Where is my refund for order 1042?"
ANSWER = "Paris is the capital of France."  # what the fake OpenAI server always answers
RESPONSE_ID = "chatcmpl-fake1"
EXPORTERS = {"http": (HttpSpans, HttpLogs), "grpc": (GrpcSpans, GrpcLogs)}


@dataclass
class Servers:
    url: str
    grpc_url: str
    admin_token: str
    otlp_token: str
    openai_url: str

    def api(self) -> httpx.Client:
        headers = {"authorization": f"Bearer {self.admin_token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def servers(database_url: str) -> Iterator[Servers]:
    """Plaudit (HTTP and gRPC on free ports) and the fake OpenAI server, both on loopback."""
    admin, _, otlp = make_tokens(database_url)
    port, grpc_port, openai_port = free_port(), free_port(), free_port()
    settings = Settings(database_url=database_url, port=port, grpc_port=grpc_port)
    with serving(settings) as url, serving_app(FakeUpstream(), openai_port) as openai_url:
        yield Servers(url, f"http://127.0.0.1:{grpc_port}", admin, otlp, f"{openai_url}/v1")


@dataclass
class Telemetry:
    tracing: TracerProvider
    logging: LoggerProvider


@pytest.fixture(params=sorted(EXPORTERS))
def telemetry(
    request: pytest.FixtureRequest, servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Telemetry]:
    """An app's OpenTelemetry set up from the environment: the stock exporters of the chosen
    transport, every setting from `OTEL_*` variables, message content capture on."""
    endpoint = servers.grpc_url if request.param == "grpc" else servers.url
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer {servers.otlp_token}")
    spans, logs = EXPORTERS[request.param]
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(spans()))
    logging = LoggerProvider()
    logging.add_log_record_processor(SimpleLogRecordProcessor(logs()))
    yield Telemetry(tracing, logging)
    tracing.shutdown()
    logging.shutdown()


def instrument_openai_v2(telemetry: Telemetry) -> Callable[[], None]:
    instrumentor = OpenAIV2()
    instrumentor.instrument(tracer_provider=telemetry.tracing, logger_provider=telemetry.logging)
    return instrumentor.uninstrument


def instrument_openinference(telemetry: Telemetry) -> Callable[[], None]:
    instrumentor = OpenInference()
    instrumentor.instrument(tracer_provider=telemetry.tracing)
    return instrumentor.uninstrument


# openai-v2 puts messages where OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT says: in a
# `gen_ai.client.inference.operation.details` event (a log record), or on the span.
INSTRUMENTATIONS = {
    "openai-v2-events": (instrument_openai_v2, "EVENT_ONLY"),
    "openai-v2-span": (instrument_openai_v2, "SPAN_ONLY"),
    "openinference": (instrument_openinference, None),
}


def ask(
    servers: Servers, telemetry: Telemetry, instrumentation: str, monkeypatch: pytest.MonkeyPatch
) -> str:
    """One chat call through the instrumented official client, inside an app span; the trace."""
    instrument, capture = INSTRUMENTATIONS[instrumentation]
    if capture is not None:
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", capture)
    uninstrument = instrument(telemetry)
    try:
        client = openai.OpenAI(base_url=servers.openai_url, api_key="sk-fake", max_retries=0)
        tracer = telemetry.tracing.get_tracer("app")
        with tracer.start_as_current_span("handle question") as span:
            client.chat.completions.create(
                model="fake-model",
                messages=[
                    {"role": "system", "content": "You answer customers."},
                    {"role": "user", "content": QUESTION},
                ],
            )
            trace_id = f"{span.get_span_context().trace_id:032x}"
        client.close()
    finally:
        uninstrument()
    return trace_id


def model_span(tree: dict[str, Any]) -> dict[str, Any]:
    (root,) = tree["spans"]
    (child,) = root["children"]
    return dict(child)


@pytest.mark.parametrize("instrumentation", sorted(INSTRUMENTATIONS))
def test_messages_show_on_the_span_in_the_api_and_the_console(
    servers: Servers,
    telemetry: Telemetry,
    instrumentation: str,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trace_id = ask(servers, telemetry, instrumentation, monkeypatch)
    with servers.api() as api:
        span = model_span(api.get(f"/v1/traces/{trace_id}").json())
    said = span_messages(span["attributes"])
    assert [(m["role"], message_text(m)) for m in said.inputs] == [
        ("system", "You answer customers."),
        ("user", QUESTION),
    ]
    assert [(m["role"], message_text(m)) for m in said.outputs] == [("assistant", ANSWER)]

    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(f"{servers.url}/login")
    page.get_by_label("Admin token").fill(servers.admin_token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{servers.url}/")
    page.goto(f"{servers.url}/traces/{trace_id}")
    body = page.locator(f"li[data-span-id='{span['span_id']}']")
    body.locator("summary").first.click()
    expect(body.locator(".message", has_text=QUESTION)).to_be_visible()
    expect(body.locator(".message", has_text=ANSWER)).to_be_visible()
    context.close()
