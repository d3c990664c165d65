"""`plaudit serve --grpc-port` as users run it (its own process, uvloop): gRPC beside HTTP, one
clear line when grpcio is missing or the port is taken, and bad ports refused at once."""

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from plaudit.server.otlp_grpc import MISSING_GRPCIO
from tests.conftest import free_port, make_tokens

PLAUDIT = [sys.executable, "-m", "plaudit"]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAUDIT_")}
    return {**env, "PLAUDIT_LOG_FORMAT": "text", **extra}


@contextmanager
def serving(tmp_path: Path, grpc_port: int, **env: str) -> Iterator[tuple[str, str, Path]]:
    """(HTTP url, OTLP token, log file) of a `plaudit serve` subprocess, stopped afterwards."""
    database_url = f"sqlite:///{tmp_path / 'plaudit.db'}"
    token = make_tokens(database_url)[2]
    port = free_port()
    log = tmp_path / "server.log"
    command = [*PLAUDIT, "serve", "--database-url", database_url, "--port", str(port),
               "--grpc-port", str(grpc_port)]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, env=environment(**env)
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _ready(url):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield url, token, log
    finally:
        process.terminate()
        process.wait(timeout=30)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def export_one_span(exporter: object) -> str:
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(exporter))  # type: ignore[arg-type]
    with tracing.get_tracer("tests").start_as_current_span("respond") as span:
        trace_id = f"{span.get_span_context().trace_id:032x}"
    tracing.shutdown()
    return trace_id


def test_serve_takes_otlp_over_grpc_beside_http(tmp_path: Path) -> None:
    grpc_port = free_port()
    with serving(tmp_path, grpc_port, PLAUDIT_LOG_LEVEL="info") as (url, token, log):
        exporter = OTLPSpanExporter(
            endpoint=f"http://127.0.0.1:{grpc_port}", headers={"authorization": f"Bearer {token}"}
        )
        over_grpc = export_one_span(exporter)
        over_http = export_one_span(
            HttpSpanExporter(f"{url}/v1/traces", headers={"authorization": f"Bearer {token}"})
        )
        text = log.read_text()
    assert f"OTLP/gRPC on 127.0.0.1:{grpc_port}" in text
    assert "Traceback" not in text
    database = tmp_path / "plaudit.db"
    with sqlite3.connect(database) as connection:
        traces = {row[0] for row in connection.execute("SELECT trace_id FROM spans")}
    assert {over_grpc, over_http} <= traces


def test_without_grpcio_one_line_says_so_and_http_serves(tmp_path: Path) -> None:
    # grpcio made unimportable for that process only, as if the extra were not installed
    shim = tmp_path / "no-grpcio"
    shim.mkdir()
    (shim / "grpc.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'grpc'\", name='grpc')\n"
    )
    with serving(tmp_path, free_port(), PYTHONPATH=str(shim)) as (url, token, log):
        trace_id = export_one_span(
            HttpSpanExporter(f"{url}/v1/traces", headers={"authorization": f"Bearer {token}"})
        )
        lines = log.read_text().splitlines()
    assert [line for line in lines if "grpcio" in line] == [
        next(line for line in lines if MISSING_GRPCIO in line)
    ]
    assert "Traceback" not in "\n".join(lines)
    with sqlite3.connect(tmp_path / "plaudit.db") as connection:
        assert connection.execute(
            "SELECT count(*) FROM spans WHERE trace_id = ?", (trace_id,)
        ).fetchone() == (1,)


def test_a_taken_grpc_port_stops_serve_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*PLAUDIT, "serve", "--database-url", f"sqlite:///{tmp_path / 'x.db'}",
             "--port", str(free_port()), "--grpc-port", str(port)],
            capture_output=True, text=True, timeout=60, env=environment(),
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: cannot listen for OTLP/gRPC on 127.0.0.1:{port}: Address already in use "
        "(choose another port with --grpc-port or PLAUDIT_GRPC_PORT, or 0 to turn OTLP/gRPC off)"
    ]


@pytest.mark.parametrize(
    ("flags", "env", "says"),
    [
        (["--grpc-port", "70000"], {}, "--grpc-port must be a port from 1 to 65535, or 0"),
        ([], {"PLAUDIT_GRPC_PORT": "grpc"}, "PLAUDIT_GRPC_PORT must be a port from 1 to 65535"),
        (["--port", "4999", "--grpc-port", "4999"], {}, "is the HTTP port too"),
    ],
)
def test_a_bad_grpc_port_is_refused_at_once(
    tmp_path: Path, flags: list[str], env: dict[str, str], says: str
) -> None:
    done = subprocess.run(
        [*PLAUDIT, "serve", "--database-url", f"sqlite:///{tmp_path / 'x.db'}", *flags],
        capture_output=True, text=True, timeout=60, env=environment(**env),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert says in line
