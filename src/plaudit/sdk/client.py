"""`Client` / `AsyncClient`: feedback and enrichment sent in the background, never in the way.

`send(links, feedback)` costs the app a few microseconds: it builds the event, encodes it and
appends it to the client's bounded queue; a background thread (`_sender.py`) delivers it, with
retries, and reports what it cannot deliver to `on_error`.

Every event carries a client-side id, so a retried batch is stored once. Without an explicit
`id`, the id is derived from (project, target span or trace or conversation, name, user_id): a
user who changes 👍 to 👎 revises their event instead of adding one.
"""

import asyncio
import hashlib
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, TypedDict

import httpx
import msgspec

from plaudit.core.ids import parse_traceparent, uuid7
from plaudit.sdk import tokens
from plaudit.sdk._safety import ErrorHandler, guarded, report
from plaudit.sdk._sender import MAX_BATCH_EVENTS, Entry, Sender


class SpanLinks(TypedDict, total=False):
    """Where feedback points, as `span.links()` answers it (any may be None or left out)."""

    trace_id: str | None
    span_id: str | None
    conversation_id: str | None
    capability: str | None
    step: str | None
    response_id: str | None
    """The provider's response id, from `capture_spans()`; feedback may name it instead."""


Links = SpanLinks | str | None
"""A `SpanLinks` dict, a W3C traceparent string, or None (the feedback names its own target)."""
LINK_FIELDS: Final = ("trace_id", "span_id", "conversation_id", "capability", "step")
_encode = msgspec.json.Encoder()


def _env(value: str | None, name: str) -> str | None:
    return value if value is not None else (os.environ.get(name) or None)


def derived_id(project: str | None, item: Mapping[str, Any]) -> str:
    """The stable id of an event without one: one per (project, target, name, user)."""
    target = item.get("span_id") or item.get("trace_id") or item.get("conversation_id")
    key = f"{project}\x1f{target}\x1f{item.get('name')}\x1f{item.get('user_id')}"
    return "fb_" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def link_fields(links: Links) -> dict[str, Any]:
    """The target fields of `links`: a `span.links()` dict or a W3C traceparent string."""
    if links is None:
        return {}
    if isinstance(links, str):
        parsed = parse_traceparent(links)
        if parsed is None:
            raise ValueError(f"not a W3C traceparent: {links!r}")
        return {"trace_id": parsed[0], "span_id": parsed[1]}
    fields: Mapping[str, object] = links
    return {key: fields[key] for key in LINK_FIELDS if fields.get(key) is not None}


class Client:
    """Sends feedback and enrichment to Plaudit from a background thread.

    Args:
        url: the server, e.g. `http://127.0.0.1:8000` (default `PLAUDIT_URL`).
        token: a token with `feedback:write` (default `PLAUDIT_TOKEN`).
        project: the project to write to (default `PLAUDIT_PROJECT`, else the token's).
        on_error: called with a `PlauditSdkError` (or other exception) whenever something
            fails; runs on the sender thread, so keep it quick.
        signing_key: a `psk_…` key to mint feedback tokens offline (default
            `PLAUDIT_SIGNING_KEY`).
        max_queue: items held in memory at most; beyond that new items are dropped.
        batch_size: events per request (at most 1,000).
        flush_interval: seconds an event may wait for its batch to fill.
        max_backoff: the longest wait between retries, in seconds.
        timeout: seconds per HTTP request.
        exit_timeout: seconds the process may spend flushing at exit.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        project: str | None = None,
        *,
        on_error: ErrorHandler | None = None,
        signing_key: str | None = None,
        max_queue: int = 100_000,
        batch_size: int = MAX_BATCH_EVENTS,
        flush_interval: float = 0.25,
        max_backoff: float = 10.0,
        timeout: float = 10.0,
        exit_timeout: float = 5.0,
    ) -> None:
        self.url = (_env(url, "PLAUDIT_URL") or "").rstrip("/") or None
        self.project = _env(project, "PLAUDIT_PROJECT")
        self.on_error = on_error
        self.signing_key = _env(signing_key, "PLAUDIT_SIGNING_KEY")
        self._token = _env(token, "PLAUDIT_TOKEN")
        self._sender = Sender(
            self.url,
            self._token,
            on_error,
            max_queue=max_queue,
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_backoff=max_backoff,
            timeout=timeout,
            exit_timeout=exit_timeout,
        )
        self._app_http: httpx.Client | None = None
        self._app_http_lock = threading.Lock()

    # ---- the app's side: cheap, never raises -------------------------------------------------

    def send(self, links: Links, feedback: Mapping[str, Any]) -> str | None:
        """Queue one feedback event about `links`; answers its id (None if it was not queued).

        `links` is `span.links()` (or any mapping with `trace_id`/`span_id`/`conversation_id`),
        or a W3C traceparent string; `feedback` is a `Feedback.…(...)` dict.
        """
        try:
            item = link_fields(links)
            item.update(feedback)
            if self.project is not None:
                item.setdefault("project", self.project)
            event_id = item.get("id") or derived_id(self.project, item)
            item["id"] = event_id
            if "timestamp" not in item:
                item["timestamp"] = datetime.now(UTC)  # msgspec writes RFC 3339
            entry = Entry(event_id, _encode.encode(item))
        except Exception as error:
            report(error, self.on_error)
            return None
        return event_id if self._sender.enqueue(entry) else None

    def enrich_span(
        self,
        span_id: str,
        *,
        feedback: Mapping[str, Any] | None = None,
        attributes: Mapping[str, Any] | None = None,
        tags: list[str] | None = None,
        user_id: str | None = None,
        id: str | None = None,
    ) -> str | None:
        """Queue a merge into span `span_id`: merge feedback and attributes, add tags."""
        return self._enrich("spans", span_id, feedback, attributes, tags, user_id, id)

    def enrich_trace(
        self,
        trace_id: str,
        *,
        feedback: Mapping[str, Any] | None = None,
        attributes: Mapping[str, Any] | None = None,
        tags: list[str] | None = None,
        user_id: str | None = None,
        id: str | None = None,
    ) -> str | None:
        """Queue a merge into trace `trace_id` (see `enrich_span`)."""
        return self._enrich("traces", trace_id, feedback, attributes, tags, user_id, id)

    def _enrich(
        self,
        kind: str,
        target: str,
        feedback: Mapping[str, Any] | None,
        attributes: Mapping[str, Any] | None,
        tags: list[str] | None,
        user_id: str | None,
        event_id: str | None,
    ) -> str | None:
        try:
            # The id makes a retried PATCH a duplicate instead of a second enrichment event.
            event_id = event_id or uuid7()
            body: dict[str, Any] = {"id": event_id}
            for key, value in (
                ("feedback", feedback),
                ("attributes", attributes),
                ("tags", tags),
                ("user_id", user_id),
            ):
                if value is not None:
                    body[key] = value
            entry = Entry(event_id, _encode.encode(body), f"/v1/{kind}/{target.lower()}")
        except Exception as error:
            report(error, self.on_error)
            return None
        return event_id if self._sender.enqueue(entry) else None

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is stored (or refused by the server).

        False if `timeout` ran out first, or if items were given up meanwhile (at shutdown).
        """
        return self._sender.flush(timeout)

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush for up to `timeout` seconds (default `exit_timeout`), then stop the sender.

        Items still unsent after that are given up and reported. Answers whether all were sent.
        Also runs at interpreter exit.
        """
        sent = self._sender.shutdown(timeout)
        if self._app_http is not None:
            self._app_http.close()
        return sent

    @property
    def dropped(self) -> int:
        """Items dropped because the queue was full."""
        return self._sender.dropped

    @property
    def pending(self) -> int:
        """Items queued or in flight."""
        return self._sender.pending

    # ---- feedback tokens ------------------------------------------------------------------

    def feedback_token(
        self,
        links: Links,
        ttl: float = tokens.DEFAULT_TTL_SECONDS,
        names: list[str] | None = None,
        user_id: str | None = None,
    ) -> str | None:
        """A per-span feedback token for the browser, or None (reported) if none can be made.

        With a signing key it is minted here, offline; without one this asks the server (a
        blocking request of at most `timeout` seconds on the calling thread).
        """
        with guarded(self.on_error):
            request = tokens.TokenRequest.of(link_fields(links), ttl, names, user_id)
            if self.signing_key:
                return tokens.mint_offline(self.signing_key, self.project, request)
            with self._app_http_lock:
                if self._app_http is None:
                    self._app_http = self._sender.http()
                http = self._app_http
            return tokens.parse_answer(http.post("/v1/feedback-tokens", json=request.body()))
        return None


class AsyncClient:
    """The `Client` for asyncio code: the same background sender, with awaitable methods.

    Sending still happens on a thread, so a slow Plaudit never blocks the event loop.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        project: str | None = None,
        *,
        on_error: ErrorHandler | None = None,
        signing_key: str | None = None,
        max_queue: int = 100_000,
        batch_size: int = MAX_BATCH_EVENTS,
        flush_interval: float = 0.25,
        max_backoff: float = 10.0,
        timeout: float = 10.0,
        exit_timeout: float = 5.0,
    ) -> None:
        """The arguments of `Client`, spelled out so type checkers see them."""
        self.sync = Client(
            url, token, project, on_error=on_error, signing_key=signing_key,
            max_queue=max_queue, batch_size=batch_size, flush_interval=flush_interval,
            max_backoff=max_backoff, timeout=timeout, exit_timeout=exit_timeout,
        )  # fmt: skip

    async def send(self, links: Links, feedback: Mapping[str, Any]) -> str | None:
        """Queue one feedback event (see `Client.send`); returns at once."""
        return self.sync.send(links, feedback)

    async def enrich_span(
        self,
        span_id: str,
        *,
        feedback: Mapping[str, Any] | None = None,
        attributes: Mapping[str, Any] | None = None,
        tags: list[str] | None = None,
        user_id: str | None = None,
        id: str | None = None,
    ) -> str | None:
        """Queue a merge into a span (see `Client.enrich_span`)."""
        return self.sync.enrich_span(
            span_id, feedback=feedback, attributes=attributes, tags=tags, user_id=user_id, id=id
        )

    async def enrich_trace(
        self,
        trace_id: str,
        *,
        feedback: Mapping[str, Any] | None = None,
        attributes: Mapping[str, Any] | None = None,
        tags: list[str] | None = None,
        user_id: str | None = None,
        id: str | None = None,
    ) -> str | None:
        """Queue a merge into a trace (see `Client.enrich_trace`)."""
        return self.sync.enrich_trace(
            trace_id, feedback=feedback, attributes=attributes, tags=tags, user_id=user_id, id=id
        )

    async def feedback_token(
        self,
        links: Links,
        ttl: float = tokens.DEFAULT_TTL_SECONDS,
        names: list[str] | None = None,
        user_id: str | None = None,
    ) -> str | None:
        """A per-span feedback token (see `Client.feedback_token`), without blocking the loop."""
        if self.sync.signing_key:
            return self.sync.feedback_token(links, ttl, names, user_id)
        return await asyncio.to_thread(self.sync.feedback_token, links, ttl, names, user_id)

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is stored; False on timeout."""
        return await asyncio.to_thread(self.sync.flush, timeout)

    async def shutdown(self, timeout: float | None = None) -> bool:
        """Flush, then stop the sender (see `Client.shutdown`)."""
        return await asyncio.to_thread(self.sync.shutdown, timeout)

    @property
    def dropped(self) -> int:
        """Items dropped because the queue was full."""
        return self.sync.dropped

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()


_default: Client | None = None
_default_lock = threading.Lock()


def default_client() -> Client:
    """The client `plaudit.sdk.init` made, or one configured from `PLAUDIT_*` variables."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Client()
    return _default


def set_default_client(client: Client | None) -> Client | None:
    """Make `client` the default; answers the previous one."""
    global _default
    with _default_lock:
        previous, _default = _default, client
    return previous


def send(links: Links, feedback: Mapping[str, Any]) -> str | None:
    """Queue feedback on the default client (see `Client.send`)."""
    return default_client().send(links, feedback)
