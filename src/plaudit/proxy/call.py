"""Everything Plaudit decides about a proxied call before it goes upstream.

Who is calling (`Plaudit-Auth`), which upstream, the span's ids and links, whether messages are
kept, the per-span feedback token, and feedback on an earlier span (`Plaudit-Feedback`), which is
stored before the call goes on so that it is durable whatever the upstream does.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import unquote

import anyio.to_thread
from sqlalchemy import Connection

from plaudit.core.access import Principal, Scope, looks_like_token
from plaudit.core.feedback import Source
from plaudit.core.feedback_tokens import (
    DEFAULT_TTL_SECONDS,
    MAX_CONVERSATION_CHARS,
    SigningKey,
    key_secret,
    mint,
    new_claims,
)
from plaudit.core.validation import Issue, validate_feedback
from plaudit.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    ValidationFailed,
)
from plaudit.proxy.genai import endpoint_of
from plaudit.proxy.headers import CallHeaders, parse_feedback, read_headers
from plaudit.server.auth import DEV_PRINCIPAL
from plaudit.server.state import ServerState
from plaudit.store.projects import captures_content
from plaudit.store.signing_keys import create_signing_key, newest_signing_key
from plaudit.store.writer import Call as WriterCall

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]

MOUNT: Final = "/proxy"
MAX_REQUEST_BYTES: Final = 64 * 1024 * 1024
# Project settings and signing keys are read at most this often per project.
CACHE_SECONDS: Final = 5.0


class ClientGone(Exception):
    """The caller went away before its request was read."""


@dataclass
class ProxyCall:
    """One call, ready to go upstream."""

    upstream: str
    url: str
    method: str
    body: bytes
    headers: CallHeaders
    principal: Principal
    endpoint: str | None
    trace_id: str
    span_id: str
    parent_span_id: str | None
    capture: bool
    started_ns: int
    token: str | None = None
    feedback_status: str | None = None

    @property
    def path(self) -> str:
        """Where the caller sent it, for problem documents (never the upstream's URL)."""
        return f"{MOUNT}/{self.upstream}"


class ProjectCache:
    """Per project: whether it captures content, and its signing key; read at most every 5 s."""

    def __init__(self) -> None:
        self._capture: dict[str, tuple[bool, float]] = {}
        self._keys: dict[str, tuple[SigningKey, float]] = {}

    async def captures(self, state: ServerState, project: str) -> bool:
        entry = self._capture.get(project)
        if entry is not None and entry[1] > time.monotonic():
            return entry[0]
        capture = await state.read(captures_content, project)
        self._capture[project] = (capture, time.monotonic() + CACHE_SECONDS)
        return capture

    async def signing_key(self, state: ServerState, project: str) -> SigningKey:
        entry = self._keys.get(project)
        if entry is not None and entry[1] > time.monotonic():
            return entry[0]

        def newest_or_new(connection: Connection) -> SigningKey:
            found = newest_signing_key(connection, project)
            if found is not None:
                return found
            key_id, text = create_signing_key(connection, project, "made by the proxy")
            return SigningKey(key_id, key_secret(text), project)

        key: SigningKey = await state.writer.write(WriterCall(newest_or_new))
        self._keys[project] = (key, time.monotonic() + CACHE_SECONDS)
        return key


async def prepare(
    state: ServerState, cache: ProjectCache, scope: MutableMapping[str, Any], receive: Receive
) -> ProxyCall:
    """The call a request asks for; raises a PlauditError when it must not go upstream."""
    started = time.time_ns()
    name, rest = _route(scope)
    base = state.settings.proxy_upstreams.get(name)
    if base is None:
        known = ", ".join(sorted(state.settings.proxy_upstreams)) or "none"
        raise NotFound(f"no upstream named {name!r}; configured: {known}")
    headers = read_headers(scope["headers"])
    principal = await _principal(state, headers.auth)
    body = await _body(receive)
    trace_id, parent = headers.parent or (secrets.token_hex(16), None)
    query = scope.get("query_string") or b""
    call = ProxyCall(
        upstream=name,
        url=base + rest + ("?" + query.decode("latin-1") if query else ""),
        method=scope["method"],
        body=body,
        headers=headers,
        principal=principal,
        endpoint=endpoint_of(rest),
        trace_id=trace_id,
        span_id=secrets.token_hex(8),
        parent_span_id=parent,
        capture=await cache.captures(state, principal.project),
        started_ns=started,
    )
    if headers.feedback:
        call.feedback_status = await _store_feedback(state, call)
    if headers.wants_token:
        call.token = await _token(state, cache, call)
    return call


def _route(scope: MutableMapping[str, Any]) -> tuple[str, str]:
    """(upstream name, the rest of the path as sent, percent-encoding kept)."""
    raw = scope.get("raw_path") or scope["path"].encode()
    path = raw.decode("latin-1").split("?", 1)[0]
    name, _, rest = path.removeprefix(MOUNT + "/").partition("/")
    if not name:
        raise NotFound("say which upstream: /proxy/{upstream}/{path}")
    segments = [unquote(segment) for segment in rest.split("/")]
    if any(segment in (".", "..") for segment in segments):
        # The path is joined onto the upstream's base: dot segments could climb out of it.
        raise BadRequest("the path must not contain `.` or `..` segments")
    return unquote(name), "/" + rest if rest else ""


async def _principal(state: ServerState, header: str | None) -> Principal:
    if header is None:
        if state.settings.dev:
            return DEV_PRINCIPAL
        raise Unauthorized(
            "send Plaudit's token as `Plaudit-Auth: Bearer <token>` (traces:write); "
            "`Authorization` is the upstream's and goes to it untouched"
        )
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not looks_like_token(secret):
        raise Unauthorized("the Plaudit-Auth header must be `Bearer <Plaudit token>`")
    hit, principal = state.tokens.cached(secret)
    if not hit:
        principal = await anyio.to_thread.run_sync(state.tokens.lookup, secret)
    if principal is None:
        raise Unauthorized("unknown or revoked Plaudit token in Plaudit-Auth")
    if not principal.allows(Scope.TRACES_WRITE):
        raise Forbidden("the Plaudit-Auth token lacks the `traces:write` scope")
    return principal


async def _body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise PayloadTooLarge(
                f"a proxied request body is at most {MAX_REQUEST_BYTES} bytes",
                limit="proxy_request_bytes",
            )
        parts.append(chunk)
        if not message.get("more_body"):
            return b"".join(parts)


async def _store_feedback(state: ServerState, call: ProxyCall) -> str:
    """Store the Plaudit-Feedback items; answers their statuses (`created`, `duplicate`…)."""
    now = datetime.now(UTC)
    project = call.principal.project
    if state.configs.fresh(project):
        loaded = state.configs.load(project)
    else:
        loaded = await anyio.to_thread.run_sync(state.configs.load, project)
    events = []
    for index, text in enumerate(call.headers.feedback):
        raw = _feedback_item(text, index, call)
        if "kind" not in raw and raw.get("name") not in loaded and _plus_or_minus_one(raw):
            # `value=-1` in a header is a thumb, as the documented example means (a JSON body says
            # "down"); a configured name or an explicit `kind=` decides otherwise
            raw["kind"] = "thumb"
        result = validate_feedback(raw, pointer="", now=now, configs=loaded)
        if isinstance(result, list):
            raise _header_problem(index, result)
        events.append(result)
    statuses = await state.store_feedback(project, events, now, call.principal)
    return ", ".join(str(status) for status in statuses)


def _plus_or_minus_one(raw: dict[str, Any]) -> bool:
    value = raw.get("value")
    return type(value) is int and value in (1, -1)


def _feedback_item(text: str, index: int, call: ProxyCall) -> dict[str, Any]:
    try:
        raw = parse_feedback(text)
    except ValueError as error:
        raise _header_problem(index, [Issue("/", str(error))]) from None
    if call.headers.parent is not None:
        # an earlier span of this same trace: the app's trace is the one this call continues
        raw.setdefault("trace_id", call.trace_id)
    if call.headers.user_id is not None:
        raw.setdefault("user_id", call.headers.user_id)
    raw.setdefault("source", Source.END_USER.value)
    if "id" not in raw and isinstance(raw.get("name"), str):
        # one id per (span, name, user): sending it again is a duplicate, a changed value a revision
        key = f"{raw.get('trace_id')}:{raw.get('span_id')}:{raw['name']}:{raw.get('user_id')}"
        raw["id"] = "pxf-" + hashlib.sha256(key.encode()).hexdigest()[:32]
    return raw


def _header_problem(index: int, issues: list[Issue]) -> ValidationFailed:
    where = f"Plaudit-Feedback header {index + 1}"
    details = "; ".join(f"{issue.pointer}: {issue.message}" for issue in issues)
    return ValidationFailed(
        f"{where} is not valid feedback: {details}",
        issues=[Issue(f"/headers/plaudit-feedback/{index}{i.pointer.rstrip('/')}", i.message)
                for i in issues],
    )  # fmt: skip


async def _token(state: ServerState, cache: ProjectCache, call: ProxyCall) -> str:
    project = call.principal.project
    conversation = call.headers.conversation_id
    if conversation is not None and len(conversation) > MAX_CONVERSATION_CHARS:
        raise BadRequest(
            f"Plaudit-Conversation-Id is at most {MAX_CONVERSATION_CHARS} characters "
            "when a feedback token is requested"
        )
    key = await cache.signing_key(state, project)
    # The token names the span's user and conversation, as the SDK's does for `span.links()`:
    # the browser client sends both with the feedback, and the server holds them to the token.
    claims = new_claims(
        project,
        call.trace_id,
        call.span_id,
        ttl_seconds=DEFAULT_TTL_SECONDS,
        user_id=call.headers.user_id,
        conversation_id=conversation,
    )
    return mint(key.key_id, key.secret, claims)
