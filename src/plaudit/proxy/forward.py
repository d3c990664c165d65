"""The proxy's ASGI app: one upstream call per request, relayed as it comes, kept as a span.

The answer is relayed chunk by chunk, as the upstream sends it: status, headers and body bytes
unchanged (hop-by-hop headers aside, which belong to each connection), plus `Plaudit-Trace-Id`,
`Plaudit-Span-Id` and, when asked, `Plaudit-Feedback-Token`. An upstream error answer is relayed
like any other. Our own refusals (unknown upstream, bad Plaudit-Auth) are problem+json, and so is
an upstream that cannot be reached (502) or does not answer in time (504). If the upstream fails
after its answer has begun, the caller's connection is cut the same way; if the caller goes away,
the upstream call is cancelled. In every case the span records what happened (`error.type`,
`http.response.status_code`).

The span is queued once the answer's last byte has been sent and stored with the other calls'
spans a few milliseconds later (`plaudit.proxy.span_queue`, which says what that means for its
durability), so storing it adds nothing to the call's latency.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final
from urllib.parse import urlsplit

import anyio
import msgspec
from sqlalchemy.exc import OperationalError

from plaudit.core.spans import SpanRecord
from plaudit.errors import PlauditError
from plaudit.proxy.answers import AnswerReader, EventStreamReader, WholeAnswerReader, reader_for
from plaudit.proxy.call import ClientGone, ProjectCache, ProxyCall, Receive, prepare
from plaudit.proxy.genai import OPERATIONS, json_object, request_attributes
from plaudit.proxy.headers import answer_headers, upstream_headers
from plaudit.proxy.span_queue import SpanQueue
from plaudit.proxy.upstream import (
    UpstreamAnswer,
    UpstreamClient,
    UpstreamError,
    UpstreamTimeout,
)
from plaudit.server.problems import PROBLEM_JSON, database_unavailable, problem_body
from plaudit.server.state import ServerState, unavailable
from plaudit.store.writer import WriterUnavailable

log = logging.getLogger(__name__)

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]

CONNECT_SECONDS: Final = 10.0
# Past this many bytes of request and kept answer, a call's span is built in a worker thread.
INLINE_SPAN_BYTES: Final = 128 * 1024


class BadGateway(PlauditError):
    """The upstream could not be reached, or broke off before answering."""

    status, slug, title = 502, "bad-gateway", "Bad gateway"


class GatewayTimeout(PlauditError):
    """The upstream did not answer in time."""

    status, slug, title = 504, "gateway-timeout", "Gateway timeout"


class Outcome:
    """What happened to one call, for its span."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.error: str | None = None
        self.reader: AnswerReader | None = None


class Proxy:
    """Forwards `/proxy/{upstream}/{path}` calls for one server."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.cache = ProjectCache()
        timeout = state.settings.proxy_timeout
        self.client = UpstreamClient(timeout, min(CONNECT_SECONDS, timeout))
        self.spans = SpanQueue(state.writer)

    async def aclose(self) -> None:
        """Store the spans still queued; close the upstream connections."""
        await self.spans.drain()
        await self.client.aclose()

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        try:
            await self._call(scope, receive, send)
        except Exception as error:  # served ahead of the framework: its error handling is ours
            await _last_resort(send, error, scope["path"])

    async def _call(self, scope: Message, receive: Receive, send: Send) -> None:
        try:
            call = await prepare(self.state, self.cache, scope, receive)
        except PlauditError as error:
            await _send_problem(send, error, scope["path"])
            return
        except ClientGone:
            return
        outcome = Outcome()
        try:
            await self._forward(call, outcome, receive, send)
        finally:
            end = time.time_ns()
            if len(call.body) + _kept_answer_bytes(outcome) <= INLINE_SPAN_BYTES:
                record = span_of(call, outcome, end)
            else:
                # Reading a long conversation (or a large answer) takes milliseconds: in a
                # thread, the event loop gets the interpreter back every few milliseconds to
                # relay other calls' chunks instead of waiting for the whole read.
                with anyio.CancelScope(shield=True):
                    record = await anyio.to_thread.run_sync(span_of, call, outcome, end)
            self.spans.add(call.principal.project, record)

    async def _forward(
        self, call: ProxyCall, outcome: Outcome, receive: Receive, send: Send
    ) -> None:
        try:
            response = await self.client.send(
                call.method,
                call.url,
                upstream_headers(call.headers, call.trace_id, call.span_id),
                call.body,
            )
        except UpstreamTimeout:
            outcome.error = "timeout"
            await _send_problem(send, GatewayTimeout(_no_answer(call, "in time")), call.path, call)
            return
        except UpstreamError as error:
            outcome.error = error.kind
            await _send_problem(send, BadGateway(_no_answer(call, "at all")), call.path, call)
            return
        try:
            await self._relay(call, response, outcome, receive, send)
        finally:
            await response.aclose()

    async def _relay(
        self,
        call: ProxyCall,
        response: UpstreamAnswer,
        outcome: Outcome,
        receive: Receive,
        send: Send,
    ) -> None:
        outcome.status = response.status
        if response.status >= 400:
            outcome.error = str(response.status)
        outcome.reader = reader_for(
            _header(response.headers, b"content-type"),
            _header(response.headers, b"content-encoding"),
            call.capture,
        )
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": answer_headers(
                    response.headers, call.trace_id, call.span_id, call.token, call.feedback_status
                ),
            }
        )
        relayed = _Relay(response, outcome, send)
        if not isinstance(outcome.reader, EventStreamReader):
            # a whole answer follows its headers at once: no need to watch for the caller
            # leaving, which costs a task per call
            await relayed.run()
            return
        async with anyio.create_task_group() as group:
            group.start_soon(_watch_caller, receive, relayed, group.cancel_scope)
            await relayed.run()
            group.cancel_scope.cancel()
        if relayed.caller_gone:
            outcome.error = "cancelled"


class _Relay:
    """Copies the upstream's body to the caller as it comes."""

    def __init__(self, response: UpstreamAnswer, outcome: Outcome, send: Send) -> None:
        self.response, self.outcome, self.send = response, outcome, send
        self.done = False
        self.caller_gone = False

    async def run(self) -> None:
        reader = self.outcome.reader
        broken: str | None = None
        try:
            async for chunk in self.response.chunks():
                if reader is not None:
                    reader.feed(chunk)
                await self.send({"type": "http.response.body", "body": chunk, "more_body": True})
        except UpstreamError as error:
            broken = error.kind
        self.done = True
        if broken is None:
            await self.send({"type": "http.response.body", "body": b"", "more_body": False})
        else:
            # Returning with the answer unfinished cuts the caller's connection, as the upstream
            # cut ours: an answer that looked complete would hide the failure.
            self.outcome.error = broken


async def _watch_caller(receive: Receive, relay: _Relay, scope: anyio.CancelScope) -> None:
    """Cancel the relay (and so the upstream call) if the caller disconnects first."""
    message = await receive()
    if message["type"] == "http.disconnect" and not relay.done:
        relay.caller_gone = True
        scope.cancel()


async def _last_resort(send: Send, error: Exception, path: str) -> None:
    """An error nothing else handled: a database or writer in trouble is a 503 to retry (as on
    every other route), anything else a bug, logged and answered 500 without internals."""
    problem: PlauditError
    if isinstance(error, WriterUnavailable):
        problem = unavailable(error)
    elif isinstance(error, OperationalError):
        problem = database_unavailable(error)
    else:
        log.exception("unhandled error on a proxied call to %s", path)
        problem = PlauditError("the server failed; the error is in its log")
    # If the answer had begun this send fails, and returning cuts the connection instead.
    with contextlib.suppress(Exception):
        await _send_problem(send, problem, path)


def _kept_answer_bytes(outcome: Outcome) -> int:
    reader = outcome.reader
    return reader.kept_bytes if isinstance(reader, WholeAnswerReader) else 0


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def _no_answer(call: ProxyCall, how: str) -> str:
    return f"upstream {call.upstream!r} did not answer {how}; nothing was relayed"


async def _send_problem(
    send: Send, error: PlauditError, instance: str, call: ProxyCall | None = None
) -> None:
    headers = [(b"content-type", PROBLEM_JSON.encode())]
    if call is not None:  # the call's span exists, with the failure on it
        headers += answer_headers([], call.trace_id, call.span_id, call.token, call.feedback_status)
    if error.retry_after:
        headers.append((b"retry-after", str(error.retry_after).encode()))
    body = msgspec.json.encode(problem_body(error, urlsplit(instance).path))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def span_of(call: ProxyCall, outcome: Outcome, end_ns: int) -> SpanRecord:
    """The span of a finished call."""
    operation = OPERATIONS.get(call.endpoint or "")
    upstream = urlsplit(call.url)
    attributes: dict[str, Any] = {
        "gen_ai.provider.name": call.upstream,
        "http.request.method": call.method,
        "server.address": upstream.hostname or "",
        "url.path": upstream.path,
        "plaudit.proxy.upstream": call.upstream,
    }
    if upstream.port:
        attributes["server.port"] = upstream.port
    if operation:
        attributes["gen_ai.operation.name"] = operation
    attributes.update(request_attributes(call.endpoint, json_object(call.body), call.capture))
    if outcome.reader is not None:
        attributes.update(outcome.reader.attributes())
    if outcome.status is not None:
        attributes["http.response.status_code"] = outcome.status
    if outcome.error is not None:
        attributes["error.type"] = outcome.error
    _links(attributes, call)
    model = attributes.get("gen_ai.request.model") or attributes.get("gen_ai.response.model")
    name = f"{operation} {model}" if operation and model else operation or f"{call.method} proxy"
    return SpanRecord.build(
        trace_id=call.trace_id,
        span_id=call.span_id,
        parent_span_id=call.parent_span_id,
        name=name,
        kind="client",
        start_time_ns=call.started_ns,
        end_time_ns=end_ns,
        status_code="error" if outcome.error is not None else "unset",
        status_message=outcome.error or "",
        attributes=attributes,
        resource={"service.name": "plaudit-proxy"},
        scope={"name": "plaudit.proxy", "version": ""},
    )


def _links(attributes: dict[str, Any], call: ProxyCall) -> None:
    headers = call.headers
    for attribute, value in (
        ("plaudit.capability", headers.capability),
        ("plaudit.step", headers.step),
        ("gen_ai.conversation.id", headers.conversation_id),
        ("enduser.id", headers.user_id),
    ):
        if value is not None:
            attributes[attribute] = value
