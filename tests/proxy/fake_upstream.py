"""A fake OpenAI-compatible provider on loopback: the one part of these tests that is not ours.

Answers are fixed bytes (odd spacing and key order included), so a test can check that the proxy
relays them byte for byte. The request's `model` picks a behaviour:

- `error-429`, `error-500`: that status with an OpenAI-shaped error body;
- `slow`: answers after `SLOW_SECONDS`, longer than the proxy's timeout in these tests;
- `gated` (streaming): sends the first chunk, then waits until the test sets `release`;
- `break` (streaming): sends two chunks, then drops the connection;
- `endless` (streaming): a chunk every 50 ms until the caller goes away.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final

Message = MutableMapping[str, Any]

SLOW_SECONDS: Final = 5.0

CHAT_ANSWER: Final = (
    b'{"id":"chatcmpl-fake1","object":"chat.completion","created":1700000000,'
    b'"model":"fake-model-2026",  "choices":[{"index":0,"message":{"role":"assistant",'
    b'"content":"Paris is the capital of France."},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}'
)
COMPLETION_ANSWER: Final = (
    b'{"id":"cmpl-fake2","object":"text_completion","created":1700000000,"model":"fake-model-2026",'
    b'"choices":[{"index":0,"text":" a completion","finish_reason":"length","logprobs":null}],'
    b'"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}'
)
EMBEDDING_ANSWER: Final = (
    b'{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.125,-0.5,0.75]}],'
    b'"model":"fake-embed","usage":{"prompt_tokens":4,"total_tokens":4}}'
)
STREAM_TEXTS: Final = ("Par", "is ", "is the", " capital.")


def chat_chunk(text: str | None, finish: str | None = None) -> dict[str, Any]:
    delta = {"content": text} if text is not None else {}
    return {
        "id": "chatcmpl-stream1", "object": "chat.completion.chunk", "created": 1700000000,
        "model": "fake-model-2026",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }  # fmt: skip


def stream_events(include_usage: bool) -> list[bytes]:
    """The SSE events of a streamed chat answer, each as sent (one event per chunk)."""
    chunks = [chat_chunk(t) for t in STREAM_TEXTS] + [chat_chunk(None, "stop")]
    if include_usage:
        usage = {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}
        chunks.append({**chat_chunk(None), "choices": [], "usage": usage})
    events = [b"data: " + json.dumps(c, separators=(",", ":")).encode() + b"\n\n" for c in chunks]
    return [*events, b"data: [DONE]\n\n"]


@dataclass
class Seen:
    """One request as the upstream received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeUpstream:
    """The ASGI app, and what it saw."""

    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    sent_last: threading.Event = field(default_factory=threading.Event)
    cancelled: threading.Event = field(default_factory=threading.Event)

    async def __call__(
        self,
        scope: Message,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        query = scope["query_string"].decode()
        self.seen.append(Seen(scope["method"], scope["path"], query, headers, body))
        request = json.loads(body) if body.startswith(b"{") else {}
        await self._answer(scope["path"], request, receive, send)

    async def _answer(
        self,
        path: str,
        request: dict[str, Any],
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        model = str(request.get("model", ""))
        if model.startswith("error-"):
            status = int(model.removeprefix("error-"))
            error = {"error": {"message": f"fake {status}", "type": "fake", "code": None}}
            await _whole(send, status, json.dumps(error).encode())
        elif model == "slow":
            await asyncio.sleep(SLOW_SECONDS)
            await _whole(send, 200, CHAT_ANSWER)
        elif request.get("stream"):
            await self._stream(model, request, receive, send)
        elif path.endswith("/embeddings"):
            await _whole(send, 200, EMBEDDING_ANSWER)
        elif path.endswith("/chat/completions"):
            await _whole(send, 200, CHAT_ANSWER)
        elif path.endswith("/completions"):
            await _whole(send, 200, COMPLETION_ANSWER)
        else:
            await _whole(send, 404, b'{"error":{"message":"no such fake path"}}')

    async def _stream(
        self,
        model: str,
        request: dict[str, Any],
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        usage = bool((request.get("stream_options") or {}).get("include_usage"))
        events = stream_events(usage)
        headers = [(b"content-type", b"text/event-stream; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if model == "endless":
            await self._endless(receive, send)
            return
        for number, event in enumerate(events):
            if number == len(events) - 1:
                if model == "gated":
                    await asyncio.to_thread(self.release.wait, 10)
                self.sent_last.set()
            if model == "break" and number == 2:
                raise ConnectionAbortedError("the fake upstream drops the stream")
            await send({"type": "http.response.body", "body": event, "more_body": True})
            await asyncio.sleep(0.005)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _endless(
        self, receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
    ) -> None:
        gone = asyncio.ensure_future(receive())
        while not gone.done():
            chunk = b"data: " + json.dumps(chat_chunk("more ")).encode() + b"\n\n"
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await asyncio.sleep(0.05)
        self.cancelled.set()


async def _whole(send: Callable[[Message], Awaitable[None]], status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"x-fake-upstream", b"yes")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
