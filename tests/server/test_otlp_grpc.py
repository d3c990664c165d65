"""OTLP/gRPC on its own port: the OpenTelemetry SDK's stock gRPC exporters, configured by
environment variables, export to it unchanged; auth, limits, partial success and durability are
those of OTLP/HTTP, and refusals are gRPC status codes (both stores)."""

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from plaudit.core import limits
from plaudit.settings import Settings
from tests.conftest import free_port, make_tokens, serving
from tests.server.test_otlp_faults import spans_locked

TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
LOGS = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"


@dataclass
class GrpcServer:
    url: str
    grpc_address: str
    database_url: str
    admin_token: str
    browser_token: str
    otlp_token: str

    def api(self) -> httpx.Client:
        headers = {"authorization": f"Bearer {self.admin_token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@contextmanager
def grpc_server(database_url: str) -> Iterator[GrpcServer]:
    """A server with OTLP/gRPC on a free port (never 4317: tests run side by side)."""
    admin, browser, otlp = make_tokens(database_url)
    port, grpc_port = free_port(), free_port()
    stack = ExitStack()
    stack.enter_context(
        serving(
            Settings(database_url=database_url, port=port, grpc_port=grpc_port, write_timeout=5)
        )
    )
    try:
        yield GrpcServer(
            f"http://127.0.0.1:{port}", f"127.0.0.1:{grpc_port}", database_url, admin, browser, otlp
        )
    finally:
        stack.close()


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[GrpcServer]:
    with grpc_server(database_url) as running:
        yield running


@pytest.fixture(scope="module")
def impatient_server(database_url: str, dialect: str) -> Iterator[GrpcServer]:
    """The same, giving up on a locked table after 0.5 s on PostgreSQL (for the fault test only:
    under a loaded test run, waits that short would fail ordinary writes too)."""
    if dialect == "postgresql":
        database_url += "%20-clock_timeout%3D500"
    with grpc_server(database_url) as running:
        yield running


@pytest.fixture
def otel_environment(server: GrpcServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The exporter settings a user would give, as environment variables."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://{server.grpc_address}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization=Bearer%20{server.otlp_token}")


@pytest.mark.usefixtures("otel_environment")
def test_the_sdk_grpc_exporter_stores_spans_queryable_once_acknowledged(server: GrpcServer) -> None:
    exporter = OTLPSpanExporter()
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = tracing.get_tracer("tests")
    with tracer.start_as_current_span("answer", attributes={"plaudit.capability": "grpc"}) as root:
        trace_id = f"{root.get_span_context().trace_id:032x}"
        with tracer.start_as_current_span("retrieve"):
            pass
    # SimpleSpanProcessor exported each span synchronously: acknowledged means stored.
    with server.api() as api:
        tree = api.get(f"/v1/traces/{trace_id}").json()
    (span,) = tree["spans"]
    assert span["name"] == "answer" and span["attributes"]["plaudit.capability"] == "grpc"
    assert [child["name"] for child in span["children"]] == ["retrieve"]
    tracing.shutdown()


@pytest.mark.usefixtures("otel_environment")
def test_genai_events_sent_as_grpc_logs_become_the_spans_messages(
    server: GrpcServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")  # gRPC's own compression
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
    logging = LoggerProvider()
    logging.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter()))
    logger = logging.get_logger("tests")
    with tracing.get_tracer("tests").start_as_current_span("chat m") as span:
        trace_id = f"{span.get_span_context().trace_id:032x}"
        logger.emit(event_name="gen_ai.user.message", body={"content": "Is it gRPC?"})
        logger.emit(
            event_name="gen_ai.choice",
            body={"index": 0, "finish_reason": "stop", "message": {"content": "It is."}},
        )
    with server.api() as api:
        attributes = api.get(f"/v1/traces/{trace_id}").json()["spans"][0]["attributes"]
    assert attributes["gen_ai.input.messages"][0]["parts"][0]["content"] == "Is it gRPC?"
    assert attributes["gen_ai.output.messages"][0]["parts"][0]["content"] == "It is."
    tracing.shutdown()
    logging.shutdown()


@pytest.mark.usefixtures("otel_environment")
def test_metrics_are_accepted_and_dropped_over_grpc_and_http(server: GrpcServer) -> None:
    exporter = OTLPMetricExporter()
    meters = MeterProvider([PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)])
    meters.get_meter("tests").create_counter("requests").add(1)
    assert meters.force_flush(timeout_millis=20_000)
    meters.shutdown()
    headers = {"authorization": f"Bearer {server.otlp_token}", "content-type": "application/json"}
    answer = httpx.post(f"{server.url}/v1/metrics", content=b"{}", headers=headers, timeout=30)
    assert (answer.status_code, answer.json()) == (200, {})
    with server.api() as api:
        metrics = api.get("/metrics").text
    exports = next(
        line for line in metrics.splitlines() if line.startswith("plaudit_metric_exports_total")
    )
    assert float(exports.split()[-1]) >= 2


# --- the wire, refusals ----------------------------------------------------------------------


def one_span(span_id: bytes = bytes.fromhex("70f067aa0ba902b7")) -> bytes:
    span = trace_pb2.Span(
        trace_id=bytes.fromhex("7bf92f3577b34da6a3ce929d0e0e4736"), span_id=span_id, name="s",
        start_time_unix_nano=1_000, end_time_unix_nano=2_000,
    )  # fmt: skip
    request = trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[{"scope_spans": [{"spans": [span]}]}]
    )
    return bytes(request.SerializeToString())


def call(server: GrpcServer, method: str, body: bytes, token: str | None) -> Any:
    """One raw unary call; the answer's bytes, or the `grpc.RpcError` it failed with."""
    metadata = [("authorization", f"Bearer {token}")] if token else []
    with grpc.insecure_channel(server.grpc_address) as channel:
        stub = channel.unary_unary(method)  # bytes in, bytes out
        try:
            return stub(body, metadata=metadata, timeout=60)
        except grpc.RpcError as error:
            return error


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("nobody", grpc.StatusCode.UNAUTHENTICATED),
        ("unknown", grpc.StatusCode.UNAUTHENTICATED),
        ("browser", grpc.StatusCode.PERMISSION_DENIED),
        ("otlp", grpc.StatusCode.OK),
        ("admin", grpc.StatusCode.OK),  # admin holds every scope, as over HTTP
    ],
)
@pytest.mark.parametrize("method", [TRACES, LOGS])
def test_the_token_and_scope_of_otlp_http_apply(
    server: GrpcServer, who: str, code: grpc.StatusCode, method: str
) -> None:
    token = {
        "nobody": None,
        "unknown": "sk_" + "0" * 40,
        "browser": server.browser_token,
        "otlp": server.otlp_token,
        "admin": server.admin_token,
    }[who]
    body = one_span() if method == TRACES else b""
    answer = call(server, method, body, token)
    if code is grpc.StatusCode.OK:
        assert isinstance(answer, bytes)
    else:
        assert answer.code() is code, answer.details()
        assert "token" in answer.details()


def test_bad_spans_are_a_partial_success_and_an_undecodable_body_is_invalid(
    server: GrpcServer,
) -> None:
    answer = call(server, TRACES, one_span(span_id=bytes(8)), server.otlp_token)
    response = trace_service_pb2.ExportTraceServiceResponse.FromString(answer)
    assert response.partial_success.rejected_spans == 1
    assert "span_id is all zeros" in response.partial_success.error_message
    assert call(server, TRACES, one_span(), server.otlp_token) == b""  # full success: empty

    refused = call(server, TRACES, b"\xff\xff\xff", server.otlp_token)
    assert refused.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "ExportTraceServiceRequest" in refused.details()
    records = logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[{"scope_logs": [{"log_records": [{"event_name": "gen_ai.user.message"}]}]}]
    ).SerializeToString()
    answer = call(server, LOGS, records, server.otlp_token)  # a GenAI event naming no span
    logs_answer = logs_service_pb2.ExportLogsServiceResponse.FromString(answer)
    assert logs_answer.partial_success.rejected_log_records == 1


def test_a_message_over_the_body_limit_is_resource_exhausted(server: GrpcServer) -> None:
    too_big = bytes(limits.MAX_OTLP_BODY_BYTES + 1)
    refused = call(server, TRACES, too_big, server.otlp_token)
    assert refused.code() is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_a_failing_database_is_unavailable_with_retry_info(impatient_server: GrpcServer) -> None:
    server = impatient_server
    with spans_locked(server.database_url):
        refused = call(server, TRACES, one_span(), server.otlp_token)
    assert refused.code() is grpc.StatusCode.UNAVAILABLE, refused.details()
    trailers = dict(refused.trailing_metadata())
    retry = error_details_pb2.RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
    assert retry.retry_delay.seconds >= 1
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    assert status.code == grpc.StatusCode.UNAVAILABLE.value[0]
    assert status.details[0].Is(error_details_pb2.RetryInfo.DESCRIPTOR)
    # and once the database is back, the same export goes through (retried, as an exporter
    # would, while other test runs keep the database busy)
    deadline = time.monotonic() + 60
    while (answer := call(server, TRACES, one_span(), server.otlp_token)) != b"":
        assert answer.code() is grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline
        time.sleep(0.2)
