"""`plaudit serve --workers 2` on PostgreSQL: every worker listens on the gRPC port (SO_REUSEPORT)
and acknowledges what its own commit stored."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.conftest import free_port, make_tokens


@pytest.mark.postgres_only
def test_every_worker_takes_otlp_grpc_on_one_port(
    database_url: str, dialect: str, tmp_path: Path
) -> None:
    admin, _, otlp = make_tokens(database_url)
    port, grpc_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAUDIT_")}
    log = tmp_path / "server.log"
    command = [sys.executable, "-m", "plaudit", "serve", "--workers", "2", "--port", str(port),
               "--grpc-port", str(grpc_port), "--database-url", database_url,
               "--log-format", "text"]  # fmt: skip
    with log.open("wb") as sink:
        server = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 90
        while log.read_text().count(f"OTLP/gRPC on 127.0.0.1:{grpc_port}") < 2:
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        traces = []
        for _ in range(6):  # a new connection each: the kernel picks a worker for each
            tracing = TracerProvider()
            exporter = OTLPSpanExporter(
                endpoint=f"http://127.0.0.1:{grpc_port}",
                headers={"authorization": f"Bearer {otlp}"},
            )
            tracing.add_span_processor(SimpleSpanProcessor(exporter))
            with tracing.get_tracer("tests").start_as_current_span("respond") as span:
                traces.append(f"{span.get_span_context().trace_id:032x}")
            tracing.shutdown()
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"authorization": f"Bearer {admin}"}
        ) as api:
            assert [api.get(f"/v1/traces/{t}").status_code for t in traces] == [200] * 6
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert "Traceback" not in log.read_text()
