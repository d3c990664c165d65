"""Delivery promises: nothing lost or duplicated across an outage, a bounded queue that drops
as documented, and no exception ever reaching the app."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from sqlalchemy import func, select

import plaudit.sdk as plaudit
from plaudit.sdk import Client, DeliveryFailed, Feedback, FeedbackDropped, PlauditSdkError
from plaudit.store.database import create_database_engine
from plaudit.store.schema import feedback, feedback_history
from tests.conftest import free_port
from tests.sdk.conftest import Errors, ServeProcess

TRACE = "9a" * 16


def counts(database_url: str) -> tuple[int, int, int]:
    """(events, distinct ids, history rows) in the database."""
    engine = create_database_engine(database_url)
    with engine.connect() as connection:
        events = connection.scalar(select(func.count()).select_from(feedback)) or 0
        distinct = connection.scalar(select(func.count(func.distinct(feedback.c.id)))) or 0
        history = connection.scalar(select(func.count()).select_from(feedback_history)) or 0
    engine.dispose()
    return events, distinct, history


def test_a_ten_second_outage_loses_and_duplicates_nothing(
    serve_process: ServeProcess, errors: Errors
) -> None:
    client = Client(
        serve_process.url, serve_process.admin_token, on_error=errors,
        flush_interval=0.05, max_backoff=1.0, batch_size=50,
    )  # fmt: skip

    def vote(i: int) -> None:
        span_id = f"{i:016x}"
        client.send({"trace_id": TRACE, "span_id": span_id}, Feedback.number(name="n", value=i))

    for i in range(1, 151):
        vote(i)
    assert client.flush(timeout=20)
    serve_process.stop()
    outage_ends = time.monotonic() + 10
    i = 151
    while time.monotonic() < outage_ends:  # the app keeps sending while the server is away
        vote(i)
        i += 1
        time.sleep(0.02)
    assert not client.flush(timeout=0.1)
    serve_process.start()
    assert client.flush(timeout=30)
    client.shutdown()

    sent = i - 1
    assert counts(serve_process.database_url) == (sent, sent, 0)
    assert client.dropped == 0
    assert [e for e in errors.items if not isinstance(e, DeliveryFailed)] == []


def test_a_full_queue_drops_new_items_and_reports_them(errors: Errors) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    client = Client(unreachable, "sk_nothing", on_error=errors, max_queue=10, flush_interval=10)
    ids = [client.send({"trace_id": TRACE}, Feedback.signal(name=f"s{i}")) for i in range(25)]
    assert ids[:10] == [i for i in ids[:10] if i] and ids[10:] == [None] * 15
    assert client.dropped == 15
    client.flush(timeout=0.5)  # wakes the sender, which reports the drops
    assert not client.shutdown(timeout=0.5)
    dropped = errors.of(FeedbackDropped)
    assert sum(e.count for e in dropped if isinstance(e, FeedbackDropped)) == 15
    assert "queue was full" in str(dropped[0])
    assert errors.of(DeliveryFailed), "giving up at shutdown is reported"


def test_no_exception_reaches_the_app(errors: Errors) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    client = plaudit.init(url=unreachable, token="sk_x", on_error=errors, exit_timeout=0.5)
    with plaudit.span("respond", capability="c", weird={"nested": object()}) as span:
        span.set_attribute("also", {1, 2})
        links = span.links()
    not_json: Any = {"name": "n", "value": object()}
    assert plaudit.send(links, not_json) is None
    assert plaudit.send("not-a-traceparent", Feedback.signal(name="s")) is None
    assert plaudit.send(links, Feedback.thumb_up(name="q")) is not None
    assert plaudit.feedback_token(links) is None  # no signing key, server unreachable
    assert plaudit.feedback_token({"trace_id": None}) is None
    assert plaudit.enrich_span(feedback={"a": 1}) is None  # no current span
    assert client.flush(timeout=0.3) is False
    assert plaudit.flush(timeout=0.3) is False
    assert plaudit.shutdown(timeout=0.3) is False
    assert Client(url=None).send(links, Feedback.signal(name="s")) is None
    raising = Client(unreachable, on_error=lambda e: 1 / 0)  # a broken callback is survived
    assert raising.send("bad", Feedback.signal(name="s")) is None
    assert len(errors.items) >= 5
    assert all(isinstance(e, Exception) for e in errors.items)
    assert any(isinstance(e, PlauditSdkError) for e in errors.items)


class BusyOnceProxy:
    """A loopback HTTP proxy in front of the real server that first answers 503 + Retry-After: 1
    (what a load balancer or an overloaded server does), then forwards every request."""

    def __init__(self, upstream: str) -> None:
        self.seen: list[float] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                proxy.seen.append(time.monotonic())
                body = self.rfile.read(int(self.headers["content-length"]))
                if len(proxy.seen) == 1:
                    self._answer(503, b'{"detail": "busy"}', {"retry-after": "1"})
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                answer = httpx.post(upstream + self.path, content=body, headers=headers)
                self._answer(answer.status_code, answer.content, {})

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in {**headers, "content-length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_retry_after_is_honoured(serve_process: ServeProcess, errors: Errors) -> None:
    proxy = BusyOnceProxy(serve_process.url)
    client = Client(proxy.url, serve_process.admin_token, on_error=errors)
    client.send({"trace_id": TRACE}, Feedback.signal(name="retried", id="retry-after-1"))
    assert client.shutdown(timeout=10)
    proxy.close()
    assert len(proxy.seen) == 2 and 0.95 <= proxy.seen[1] - proxy.seen[0] < 3
    with serve_process.client() as api:
        assert api.get("/v1/feedback/retry-after-1").status_code == 200
    assert errors.items == []
