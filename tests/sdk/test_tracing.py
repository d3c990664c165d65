"""Spans made with `plaudit.sdk.span` reach the real server with capability, step and links."""

import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

import plaudit.sdk as plaudit
from tests.conftest import LiveServer, until
from tests.sdk.conftest import Errors, wait_for


def trace_of(api: httpx.Client, trace_id: str) -> dict[str, Any]:
    def fetch() -> dict[str, Any] | None:
        response = api.get(f"/v1/traces/{trace_id}")
        return response.json() if response.status_code == 200 else None

    return wait_for(fetch)


def flatten(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for span in spans:
        found[span["name"]] = span
        found.update(flatten(span["children"]))
    return found


@plaudit.span("retrieve", step="retrieve", source_count=3)
def retrieve(question: str) -> list[str]:
    return [question.upper()]


@plaudit.span("respond", step="respond")
async def respond(documents: list[str]) -> str:
    await asyncio.sleep(0)
    return " ".join(documents)


def test_spans_arrive_with_capability_step_and_inherited_context(
    live_server: LiveServer, api: httpx.Client, errors: Errors
) -> None:
    plaudit.init(url=live_server.url, token=live_server.admin_token, on_error=errors)
    with plaudit.span(
        "support-turn", capability="support-agent", conversation_id="conv-7", user_id="u-1"
    ) as turn:
        documents = retrieve("where is my order")
        answer = asyncio.run(respond(documents))
        links = turn.links()
    assert answer == "WHERE IS MY ORDER"
    assert plaudit.flush(timeout=20)

    spans = flatten(trace_of(api, str(links["trace_id"]))["spans"])
    assert set(spans) == {"support-turn", "retrieve", "respond"}
    assert spans["support-turn"]["span_id"] == links["span_id"]
    assert spans["retrieve"]["capability"] == "support-agent"  # inherited from the turn
    assert spans["retrieve"]["step"] == "retrieve"
    assert spans["retrieve"]["attributes"]["source_count"] == 3
    assert spans["respond"]["step"] == "respond"
    assert spans["respond"]["conversation_id"] == "conv-7"
    assert spans["respond"]["user_id"] == "u-1"
    assert spans["support-turn"]["attributes"]["enduser.id"] == "u-1"
    assert errors.items == []


def test_links_name_the_span_for_the_browser(live_server: LiveServer) -> None:
    plaudit.init(url=live_server.url, token=live_server.admin_token)
    with plaudit.span("respond", capability="summarize", step="respond", conversation_id="c") as s:
        links = s.links()
    assert set(links) == {"trace_id", "span_id", "capability", "step", "conversation_id"}
    assert len(str(links["trace_id"])) == 32 and len(str(links["span_id"])) == 16
    assert (links["capability"], links["step"], links["conversation_id"]) == (
        "summarize",
        "respond",
        "c",
    )


def test_the_apps_exception_propagates_and_marks_the_span(
    live_server: LiveServer, api: httpx.Client
) -> None:
    plaudit.init(url=live_server.url, token=live_server.admin_token)
    with pytest.raises(KeyError), plaudit.span("lookup", capability="support-agent") as failing:
        links = failing.links()
        raise KeyError("order-9")
    assert plaudit.flush(timeout=20)
    span = trace_of(api, str(links["trace_id"]))["spans"][0]
    assert span["status_code"] == "error"
    assert "KeyError" in (span["status_message"] or "")


def test_an_existing_opentelemetry_setup_keeps_working(live_server: LiveServer) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    mine = TracerProvider()
    memory = InMemorySpanExporter()
    mine.add_span_processor(SimpleSpanProcessor(memory))
    plaudit.init(url=live_server.url, token=live_server.admin_token, tracer_provider=mine)
    own = mine.get_tracer("app")
    with plaudit.span("respond", capability="support-agent"), own.start_as_current_span("own-span"):
        assert trace.get_current_span().is_recording()
    assert plaudit.flush(timeout=20)
    assert {s.name for s in memory.get_finished_spans()} == {"respond", "own-span"}
    mine.shutdown()


def test_a_refused_export_is_reported_not_raised(live_server: LiveServer, errors: Errors) -> None:
    plaudit.init(url=live_server.url, token="sk_" + "0" * 30, on_error=errors)
    with plaudit.span("respond", capability="support-agent") as span:
        plaudit.send(span.links(), plaudit.Feedback.signal(name="copied"))
    plaudit.flush(timeout=10)
    spans_failed = errors.of(plaudit.DeliveryFailed)
    feedback_refused = errors.of(plaudit.FeedbackRejected)
    assert spans_failed and "1 span(s) not exported" in str(spans_failed[0])
    assert feedback_refused and "401" in str(feedback_refused[0])


def test_shutdown_stops_retrying_spans_a_busy_server_refuses(errors: Errors) -> None:
    """A server answering 503 keeps the exporter retrying (for up to its 10 s timeout); once
    `shutdown(timeout)` returns, no further export reaches it."""
    seen: list[float] = []

    class Busy(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(time.monotonic())
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(503)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        plaudit.init(url=f"http://127.0.0.1:{server.server_port}", token="sk_x", on_error=errors)
        with plaudit.span("respond"):
            pass
        assert until(lambda: len(seen) >= 1, 30), "the span was never exported"
        plaudit.shutdown(timeout=0.5)
        time.sleep(0.5)  # what was already on the wire may still land
        after = len(seen)
        time.sleep(4)  # unstopped, the exporter retries after ~1, 2 and 4 s
        assert len(seen) == after, f"{len(seen) - after} export(s) after shutdown"
    finally:
        server.shutdown()
        server.server_close()
