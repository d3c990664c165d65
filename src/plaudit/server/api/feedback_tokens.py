"""`/v1/feedback-tokens`: mint per-span feedback tokens, and check the ones feedback arrives with.

A per-span token lets a browser send end-user feedback on one span, with no long-lived
key in the page. Ingest calls `feedback_token_principal` for a `pft_` token and `enforce_claims`
on the request's items.
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final

import anyio.to_thread
import msgspec
from litestar import Request, Response, post
from sqlalchemy import Engine

from plaudit.core import limits
from plaudit.core.access import Principal, Scope
from plaudit.core.feedback_tokens import (
    DEFAULT_TTL_SECONDS,
    MAX_CONVERSATION_CHARS,
    MAX_NAMES,
    MAX_TTL_SECONDS,
    MIN_TTL_SECONDS,
    FeedbackTokenClaims,
    FeedbackTokenError,
    SigningKey,
    claims_problem,
    fill_from_claims,
    key_id_of,
    key_secret,
    mint,
    new_claims,
    verify,
)
from plaudit.core.times import rfc3339
from plaudit.core.validation import Issue
from plaudit.errors import Forbidden, Unauthorized, ValidationFailed
from plaudit.server.auth import authenticate, check_origin, limit_browser, require
from plaudit.server.bodies import json_body
from plaudit.server.state import ServerState
from plaudit.store.signing_keys import create_signing_key, live_signing_key, newest_signing_key

# A revoked key stops working within this many seconds on servers that cached it.
KEY_CACHE_SECONDS: Final = 5.0

HexTrace = Annotated[str, msgspec.Meta(pattern="^[0-9a-fA-F]{32}$")]
HexSpan = Annotated[str, msgspec.Meta(pattern="^[0-9a-fA-F]{16}$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=limits.MAX_NAME_CHARS)]


class FeedbackTokenIn(msgspec.Struct, forbid_unknown_fields=True):
    """A request for a per-span feedback token."""

    trace_id: HexTrace
    span_id: HexSpan
    names: Annotated[list[Name], msgspec.Meta(max_length=MAX_NAMES)] | None = None
    user_id: Annotated[str, msgspec.Meta(max_length=limits.MAX_USER_ID_CHARS)] | None = None
    conversation_id: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_CONVERSATION_CHARS)] | None
    ) = None
    ttl_seconds: Annotated[float, msgspec.Meta(ge=MIN_TTL_SECONDS, le=MAX_TTL_SECONDS)] | None = (
        None
    )


@dataclass(slots=True)
class _Cached:
    key: SigningKey | None
    expires: float


class KeyCache:
    """Key id → live signing key, cached briefly: verifying must not cost a query per request."""

    def __init__(self) -> None:
        self._entries: dict[tuple[int, str], _Cached] = {}

    def lookup(self, engine: Engine, key_id: str) -> SigningKey | None:
        """The live key `key_id` (blocking on a miss: call from a worker thread)."""
        now = time.monotonic()
        entry = self._entries.get((id(engine), key_id))
        if entry is not None and entry.expires > now:
            return entry.key
        with engine.connect() as connection:
            key = live_signing_key(connection, key_id)
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[(id(engine), key_id)] = _Cached(key, now + KEY_CACHE_SECONDS)
        return key

    def cached(self, engine: Engine, key_id: str) -> tuple[bool, SigningKey | None]:
        """(hit, key) without touching the database."""
        entry = self._entries.get((id(engine), key_id))
        if entry is None or entry.expires <= time.monotonic():
            return False, None
        return True, entry.key


KEYS = KeyCache()
JSON: Final = "application/json"


def _state(request: Request[Any, Any, Any]) -> ServerState:
    state: ServerState = request.app.state.plaudit
    return state


def _signing_key(engine: Engine, project: str) -> SigningKey:
    """The project's newest live key, made on first use so minting needs no set-up."""
    with engine.begin() as connection:
        found = newest_signing_key(connection, project)
        if found is not None:
            return found
        key_id, text = create_signing_key(connection, project, "made by POST /v1/feedback-tokens")
    return SigningKey(key_id, key_secret(text), project)


@post(
    "/v1/feedback-tokens",
    summary="Mint a per-span feedback token for a browser",
    tags=["feedback"],
    status_code=200,
)
async def post_feedback_token(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Answers `{"token", "expires_at"}`: feedback on that one span only, until it expires.

    Needs a secret token with `feedback:write`. `ttl_seconds` is 1 s to 30 days (default 24 h);
    `names`, `user_id` and `conversation_id` narrow the token further; feedback sent with it
    may name no other target (no `response_id`, no other conversation).
    """
    state = _state(request)
    principal = await authenticate(request, state)
    if principal.browser_safe:
        raise Forbidden("a browser (pk_) token cannot mint feedback tokens; use a secret token")
    require(principal, Scope.FEEDBACK_WRITE)
    wanted = await json_body(request, FeedbackTokenIn)
    try:
        claims = new_claims(
            principal.project,
            wanted.trace_id,
            wanted.span_id,
            ttl_seconds=wanted.ttl_seconds or DEFAULT_TTL_SECONDS,
            names=wanted.names,
            user_id=wanted.user_id,
            conversation_id=wanted.conversation_id,
        )
    except ValueError as error:
        raise ValidationFailed(str(error), issues=[Issue("/", str(error))]) from None
    key = await anyio.to_thread.run_sync(_signing_key, state.engine, principal.project)
    token = mint(key.key_id, key.secret, claims)
    answer = {"token": token, "expires_at": rfc3339(claims.expires_at)}
    return Response(msgspec.json.encode(answer), media_type=JSON)


async def feedback_token_principal(
    request: Request[Any, Any, Any], state: ServerState, secret: str
) -> tuple[Principal, FeedbackTokenClaims]:
    """The browser-safe principal and the claims of a valid `pft_` token; Unauthorized if not.

    The principal holds only `feedback:write`, so its feedback is stored as `end_user`.
    """
    key_id = key_id_of(secret)
    key: SigningKey | None = None
    if key_id is not None:
        hit, key = KEYS.cached(state.engine, key_id)
        if not hit:
            key = await anyio.to_thread.run_sync(KEYS.lookup, state.engine, key_id)
    try:
        claims = verify(secret, lambda wanted: key if wanted == key_id else None, datetime.now(UTC))
    except FeedbackTokenError as error:
        raise Unauthorized(str(error)) from None
    principal = Principal(
        project=claims.project,
        scopes=frozenset({Scope.FEEDBACK_WRITE}),
        token_id=f"pft:{claims.key_id}",
    )
    check_origin(request, principal, state)
    # Limited per token (its signature names it uniquely), not per key: a key signs every span.
    limit_browser(request, state, "pft:" + secret.rpartition(".")[2])
    return principal, claims


def enforce_claims(claims: FeedbackTokenClaims, items: list[Any]) -> None:
    """Fill each item's span, trace, user and conversation from the token, or refuse the whole
    request.

    Raises Forbidden naming the first item the token does not allow. A target sent as `null`
    counts as missing, and is filled from the token like one left out.
    """
    for index, item in enumerate(items):
        problem = claims_problem(claims, item)
        if problem is not None:
            where = f"feedback item {index}: " if len(items) > 1 else ""
            raise Forbidden(where + problem)
        if isinstance(item, dict):
            fill_from_claims(claims, item)
