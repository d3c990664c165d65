"""A fake OpenAI-compatible judge (the one third-party service these tests cannot run): a real
HTTP server on loopback whose answer depends on the row it is asked about, and the SDK reset
after each test."""

import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import plaudit.sdk

# What the judge answers for a row whose input holds the key (see `_answer`).
ANSWERS: dict[str, Any] = {
    "json": '{"score": 0.9, "reason": "answers the question"}',
    "fenced": '```json\n{"score": 1, "reason": "exact"}\n```',
    "bare": "0.25",
    "junk": "I would rather not say.",
    "flaky": '{"score": 0.8, "reason": "fine on the second try"}',
}


class FakeJudge:
    """The judge's address and what it was asked, per row key."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"


def _key(prompt: str) -> str:
    for key in (*ANSWERS, "storm"):
        if f"<{key}>" in prompt:
            return key
    return "json"


def _handler(judge: FakeJudge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            assert self.path == "/v1/chat/completions"
            prompt = body["messages"][0]["content"]
            key = _key(prompt)
            with judge.lock:
                judge.calls[key] += 1
                calls = judge.calls[key]
            if key == "storm" or (key == "flaky" and calls == 1):
                status = 503 if key == "storm" else 429
                self._send(status, {"error": {"message": "try later"}}, {"retry-after": "0"})
                return
            answer = {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": ANSWERS[key]}}
                ],
            }
            self._send(200, answer, {})

        def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture
def judge() -> Iterator[FakeJudge]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    fake = FakeJudge(server)
    server.RequestHandlerClass = _handler(fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _reset_sdk() -> Iterator[None]:
    """Each test ends without a configured default client or span exporter."""
    yield
    plaudit.sdk.shutdown(timeout=2)
