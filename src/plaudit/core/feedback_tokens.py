"""Per-span feedback tokens: signed, expiring permission to rate one span.

A token is `pft_<payload>.<signature>`, both base64url without padding. The payload is compact
JSON naming the signing key (`k`), project (`p`), trace (`t`), span (`s`), optional feedback names
(`n`), user (`u`) and conversation (`c`), and the expiry in Unix milliseconds (`e`, so expiry is
exact to well within a second). The signature is HMAC-SHA256 over `pft_<payload>` with the
project's signing key.

Stdlib only: the SDK mints tokens offline with this module, and the server verifies them with it.
"""

import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple

from plaudit.core import base64url, limits
from plaudit.core.ids import is_span_id, is_trace_id, parse_traceparent

TOKEN_PREFIX: Final = "pft_"  # noqa: S105 - a prefix, not a secret
KEY_PREFIX: Final = "psk_"
DEFAULT_TTL_SECONDS: Final = 24 * 3600
MIN_TTL_SECONDS: Final = 1
MAX_TTL_SECONDS: Final = 30 * 24 * 3600
MAX_TOKEN_CHARS: Final = 4096
MAX_NAMES: Final = 64
MAX_CONVERSATION_CHARS: Final = limits.MAX_CONVERSATION_ID_CHARS
# Item fields that say what the feedback is about. A per-span token names its trace and span (and
# maybe a conversation); feedback may not point anywhere else through any of these.
TARGET_FIELDS: Final = ("trace_id", "span_id", "traceparent", "conversation_id", "response_id")


class FeedbackTokenError(ValueError):
    """A feedback token cannot be used; the message says why (shown to API clients)."""


class MalformedToken(FeedbackTokenError):
    """Not a feedback token at all, or damaged."""


class BadSignature(FeedbackTokenError):
    """Signed with another key, or altered after signing; also: unknown or revoked key."""


class TokenExpired(FeedbackTokenError):
    """Was valid, but its time is up."""


class SigningKey(NamedTuple):
    """A project's signing key: its id, its secret bytes, and the project it signs for."""

    key_id: str
    secret: bytes
    project: str


@dataclass(frozen=True, slots=True)
class FeedbackTokenClaims:
    """What a feedback token allows: feedback on one span of one trace, until `expires_at`."""

    project: str
    trace_id: str
    span_id: str
    expires_at: datetime
    names: list[str] | None = None
    user_id: str | None = None
    key_id: str = ""
    conversation_id: str | None = None


def new_claims(
    project: str,
    trace_id: str,
    span_id: str,
    *,
    ttl_seconds: float = DEFAULT_TTL_SECONDS,
    names: list[str] | None = None,
    user_id: str | None = None,
    now: datetime | None = None,
    conversation_id: str | None = None,
) -> FeedbackTokenClaims:
    """Claims for a new token; raises ValueError naming the bad argument."""
    trace_id, span_id = trace_id.lower(), span_id.lower()
    if not is_trace_id(trace_id):
        raise ValueError("trace_id must be 32 hex characters, not all zero")
    if not is_span_id(span_id):
        raise ValueError("span_id must be 16 hex characters, not all zero")
    if not MIN_TTL_SECONDS <= ttl_seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"ttl must be {MIN_TTL_SECONDS} to {MAX_TTL_SECONDS} seconds")
    if names is not None and (
        len(names) > MAX_NAMES or not all(isinstance(n, str) and n for n in names)
    ):
        raise ValueError(f"names must be at most {MAX_NAMES} non-empty strings")
    if conversation_id is not None and not 0 < len(conversation_id) <= MAX_CONVERSATION_CHARS:
        raise ValueError(f"conversation_id must be 1 to {MAX_CONVERSATION_CHARS} characters")
    texts = (project, user_id or "", conversation_id or "", *(names or []))
    if any("\x00" in text for text in texts):
        raise ValueError("strings must not contain NUL characters")
    start = now or datetime.now(UTC)
    expires = start + timedelta(seconds=ttl_seconds)
    return FeedbackTokenClaims(
        project=project,
        trace_id=trace_id,
        span_id=span_id,
        expires_at=_to_millis_precision(expires),
        names=list(names) if names is not None else None,
        user_id=user_id,
        conversation_id=conversation_id,
    )


def _to_millis_precision(moment: datetime) -> datetime:
    return _from_millis(_millis(moment))


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _from_millis(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC)


def _signature(key: bytes, signed: str) -> str:
    return base64url.encode(hmac.new(key, signed.encode("ascii"), hashlib.sha256).digest())


def mint(key_id: str, key: bytes, claims: FeedbackTokenClaims) -> str:
    """A signed token carrying `claims`, signed with `key` (whose id is `key_id`)."""
    payload: dict[str, Any] = {
        "k": key_id,
        "p": claims.project,
        "t": claims.trace_id,
        "s": claims.span_id,
        "e": _millis(claims.expires_at),
    }
    if claims.names is not None:
        payload["n"] = claims.names
    if claims.user_id is not None:
        payload["u"] = claims.user_id
    if claims.conversation_id is not None:
        payload["c"] = claims.conversation_id
    body = base64url.encode(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    signed = TOKEN_PREFIX + body
    return f"{signed}.{_signature(key, signed)}"


def is_feedback_token(value: str) -> bool:
    """A cheap shape check: whether `value` claims to be a feedback token."""
    return value.startswith(TOKEN_PREFIX)


def _payload(token: str) -> tuple[str, str, dict[str, Any]]:
    """(signed part, signature, decoded payload) of a token; MalformedToken if it is not one."""
    if not is_feedback_token(token) or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise MalformedToken("this is not a feedback token (pft_<payload>.<signature>)")
    signed, signature = token.split(".")
    try:
        payload = json.loads(base64url.decode(signed[len(TOKEN_PREFIX) :]))
    except (binascii.Error, ValueError):
        raise MalformedToken("the feedback token is damaged: its payload cannot be read") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("k"), str):
        raise MalformedToken("the feedback token is damaged: its payload has no key id")
    return signed, signature, payload


def key_id_of(token: str) -> str | None:
    """The signing key id a token names (not yet verified), or None if it is malformed."""
    try:
        return str(_payload(token)[2]["k"])
    except MalformedToken:
        return None


def _claims_of(payload: dict[str, Any]) -> FeedbackTokenClaims:
    try:
        project, trace_id, span_id = payload["p"], payload["t"], payload["s"]
        expires = payload["e"]
        names, user_id = payload.get("n"), payload.get("u")
        conversation_id = payload.get("c")
        if not (
            isinstance(project, str) and isinstance(trace_id, str) and isinstance(span_id, str)
        ):
            raise TypeError
        if not isinstance(expires, int) or isinstance(expires, bool):
            raise TypeError
        if names is not None and not (
            isinstance(names, list) and all(isinstance(n, str) for n in names)
        ):
            raise TypeError
        if not all(v is None or isinstance(v, str) for v in (user_id, conversation_id)):
            raise TypeError
    except (KeyError, TypeError):
        raise MalformedToken(
            "the feedback token's payload lacks a field or has a wrong type"
        ) from None
    return FeedbackTokenClaims(
        project, trace_id, span_id, _from_millis(expires), names, user_id, payload["k"],
        conversation_id,
    )  # fmt: skip


def verify(
    token: str, key_lookup: Callable[[str], SigningKey | None], now: datetime
) -> FeedbackTokenClaims:
    """The claims of a valid token; raises a `FeedbackTokenError` saying why it is not valid.

    `key_lookup` answers the live signing key of a key id, or None (unknown or revoked).
    Checks run in this order: shape, key, signature, project, expiry — so an expired token
    that was also tampered with is reported as tampered.
    """
    signed, signature, payload = _payload(token)
    key = key_lookup(payload["k"])
    if key is None:
        raise BadSignature("the feedback token's signing key is unknown or was revoked")
    if not hmac.compare_digest(_signature(key.secret, signed), signature):
        raise BadSignature("the feedback token's signature does not match: it was altered")
    claims = _claims_of(payload)
    if claims.project != key.project:
        raise BadSignature(
            f"the feedback token names project {claims.project!r} but its key signs for "
            f"{key.project!r}"
        )
    if now >= claims.expires_at:
        raise TokenExpired(f"the feedback token expired at {claims.expires_at.isoformat()}")
    return claims


def _item_target(item: Mapping[str, Any]) -> tuple[Any, Any]:
    trace_id, span_id = item.get("trace_id"), item.get("span_id")
    traceparent = item.get("traceparent")
    if isinstance(traceparent, str) and (parsed := parse_traceparent(traceparent)):
        trace_id, span_id = parsed
    return trace_id, span_id


def _present(item: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of `item` that hold a value: an explicit `null` counts as missing.

    Otherwise `"span_id": null` would skip the span check here and keep the token's span from
    being filled in, leaving the item free to target something else.
    """
    return {key: value for key, value in item.items() if value is not None}


def claims_problem(claims: FeedbackTokenClaims, item: Mapping[str, Any]) -> str | None:
    """Why `claims` do not allow the raw feedback `item`, or None if they do.

    An item may leave out (or send as null) `span_id`, `trace_id`, `user_id` and
    `conversation_id`: `fill_from_claims` supplies them from the token. What it does name must
    match the token, and it may name no target the token does not (a `response_id`, another
    conversation). A non-object item is left for validation to refuse.
    """
    if not isinstance(item, Mapping):
        return None
    item = _present(item)
    if problem := _target_problem(claims, item):
        return problem
    if claims.names is not None and item.get("name") not in claims.names:
        return f"this feedback token allows the names {claims.names}, not {item.get('name')!r}"
    user_id = item.get("user_id")
    if claims.user_id is not None and user_id is not None and user_id != claims.user_id:
        return f"this feedback token is for user {claims.user_id!r}, not {user_id!r}"
    project = item.get("project")
    if project is not None and project != claims.project:
        return f"this feedback token is for project {claims.project!r}, not {project!r}"
    return None


def _target_problem(claims: FeedbackTokenClaims, item: Mapping[str, Any]) -> str | None:
    if "response_id" in item:
        return "a feedback token names its span: the feedback may not name a response_id"
    conversation = item.get("conversation_id")
    if conversation is not None and conversation != claims.conversation_id:
        named = claims.conversation_id
        allowed = f"conversation {named!r}" if named else "no conversation"
        return f"this feedback token names {allowed}, not conversation {conversation!r}"
    trace_id, span_id = _item_target(item)
    if span_id is not None and str(span_id).lower() != claims.span_id:
        return f"this feedback token is for span {claims.span_id}, not {span_id}"
    if trace_id is not None and str(trace_id).lower() != claims.trace_id:
        return f"this feedback token is for trace {claims.trace_id}, not {trace_id}"
    return None


def fill_from_claims(claims: FeedbackTokenClaims, item: dict[str, Any]) -> dict[str, Any]:
    """`item` with the token's span, trace, user and conversation filled in where it named none
    (in place); null targets are dropped first, as missing ones."""
    for key in (*TARGET_FIELDS, "user_id"):
        if key in item and item[key] is None:
            del item[key]
    if "traceparent" not in item:
        item.setdefault("trace_id", claims.trace_id)
        item.setdefault("span_id", claims.span_id)
    if claims.user_id is not None:
        item.setdefault("user_id", claims.user_id)
    if claims.conversation_id is not None:
        item.setdefault("conversation_id", claims.conversation_id)
    return item


def new_signing_key() -> tuple[str, str]:
    """A new (key id, key text); the text `psk_<id>_<secret>` is what users keep."""
    key_id = secrets.token_hex(6)
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def parse_signing_key(text: str) -> tuple[str, bytes]:
    """(key id, secret bytes) of a key text; ValueError if it is not one."""
    body = text.strip()
    if not body.startswith(KEY_PREFIX):
        raise ValueError("a signing key starts with psk_ (see `plaudit key create`)")
    key_id, sep, secret = body[len(KEY_PREFIX) :].partition("_")
    if not sep or len(key_id) != 12 or len(secret) < 32:
        raise ValueError("a signing key is psk_<12 hex id>_<secret>; this one is damaged")
    return key_id, key_secret(body)


def key_secret(text: str) -> bytes:
    """The HMAC key bytes of a key text (the whole text: nothing of it is guessable)."""
    return text.strip().encode("ascii")
