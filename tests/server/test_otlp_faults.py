"""OTLP answers in OTLP even when the database fails: a `google.rpc.Status` in the request's
encoding with 503 and `Retry-After`, never problem+json (which an OTLP exporter cannot read)."""

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import msgspec
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from plaudit.settings import Settings
from tests.conftest import free_port, make_tokens, serving, until

UNAVAILABLE = 14  # google.rpc.Code.UNAVAILABLE


@pytest.fixture(scope="module")
def server(database_url: str, dialect: str) -> Iterator[tuple[str, str, str]]:
    """(server url, database url, OTLP token); on PostgreSQL a lock is waited for 0.5 s at most."""
    _, _, otlp = make_tokens(database_url)
    if dialect == "postgresql":
        database_url += "%20-clock_timeout%3D500"
    with ExitStack() as stack:
        url = started(stack, Settings(database_url=database_url, port=free_port()))
        yield url, database_url, otlp


def started(stack: ExitStack, settings: Settings) -> str:
    """The URL of a server for `settings`, started on `stack`. Its start-up takes PostgreSQL's
    migration lock, which every test server starting on the test database's other schemas takes
    too: under load one of them may hold it past the 0.5 s lock timeout, so a start that fails is
    tried again (on a new port) until a generous bound."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return stack.enter_context(serving(settings))
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            settings = msgspec.structs.replace(settings, port=free_port())


@contextmanager
def spans_locked(database_url: str) -> Iterator[None]:
    """Another session holds the lock span writes need, so the server's write fails."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        holder = sqlite3.connect(str(url.database), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    engine = create_engine(database_url)
    with engine.connect() as connection, connection.begin():
        connection.execute(text("LOCK TABLE spans IN ACCESS EXCLUSIVE MODE"))
        yield
    engine.dispose()


TRACE, SPAN = "7bf92f3577b34da6a3ce929d0e0e4736", "70f067aa0ba902b7"


def export_body(media: str) -> bytes:
    """One span, in OTLP protobuf or OTLP/JSON (whose ids are hex, not base64)."""
    if media == "application/json":
        span = {"traceId": TRACE, "spanId": SPAN, "name": "respond",
                "startTimeUnixNano": "1000", "endTimeUnixNano": "2000"}  # fmt: skip
        return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()
    message = trace_pb2.Span(
        trace_id=bytes.fromhex(TRACE), span_id=bytes.fromhex(SPAN), name="respond",
        start_time_unix_nano=1_000, end_time_unix_nano=2_000,
    )  # fmt: skip
    request = trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[{"scope_spans": [{"spans": [message]}]}]
    )
    return request.SerializeToString()


def send(server: tuple[str, str, str], media: str) -> httpx.Response:
    url, _, token = server
    headers: dict[str, Any] = {"content-type": media, "authorization": f"Bearer {token}"}
    return httpx.post(f"{url}/v1/traces", content=export_body(media), headers=headers, timeout=60)


@pytest.mark.parametrize("media", ["application/x-protobuf", "application/json"])
def test_a_failing_database_answers_a_google_rpc_status_503(
    server: tuple[str, str, str], media: str
) -> None:
    with spans_locked(server[1]):
        response = send(server, media)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith(media)
    assert int(response.headers["retry-after"]) > 0
    if media == "application/json":
        status = response.json()
        assert status["code"] == UNAVAILABLE and "database" in status["message"]
    else:
        parsed = status_pb2.Status.FromString(response.content)
        assert parsed.code == UNAVAILABLE and "database" in parsed.message
    # and it recovers once the lock is gone (after the writer's pause before it tries again)
    assert until(lambda: send(server, media).status_code == 200)
