"""The headers of a proxied call: what the caller asks of Plaudit, and what passes through.

Every `Plaudit-*` header is Plaudit's and stays here: none goes upstream (least of all
`Plaudit-Auth`, Plaudit's own token). The caller's `Authorization` goes upstream untouched and
is never read. Hop-by-hop headers are the connection's, not the message's (RFC 9110 §7.6.1), so
each side of the proxy makes its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from plaudit.core.ids import format_traceparent, parse_traceparent

RawHeaders = list[tuple[bytes, bytes]]

PLAUDIT_PREFIX: Final = b"plaudit-"
HOP_BY_HOP: Final = frozenset(
    {
        b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
        b"trailer", b"transfer-encoding", b"upgrade",
    }
)  # fmt: skip
# The proxy sets these itself: the upstream's host and body length, and the trace context
# naming the proxy's span as the parent of whatever the upstream records. `expect` asked the
# proxy, which has read the whole body already, not the upstream.
_REMADE_UPSTREAM: Final = frozenset({b"host", b"content-length", b"traceparent", b"expect"})

TRACE_ID_HEADER: Final = b"plaudit-trace-id"
SPAN_ID_HEADER: Final = b"plaudit-span-id"
TOKEN_HEADER: Final = b"plaudit-feedback-token"
FEEDBACK_STATUS_HEADER: Final = b"plaudit-feedback-status"


@dataclass
class CallHeaders:
    """What a call's headers say to Plaudit, and the headers to send upstream."""

    auth: str | None = None
    capability: str | None = None
    step: str | None = None
    conversation_id: str | None = None
    user_id: str | None = None
    parent: tuple[str, str] | None = None  # (trace id, span id) from `traceparent`
    wants_token: bool = False
    feedback: list[str] = field(default_factory=list)
    upstream: RawHeaders = field(default_factory=list)


def _text(value: bytes) -> str:
    """A header value as text: UTF-8 when it is, else Latin-1 as HTTP/1.1 reads octets."""
    try:
        return value.decode().strip()
    except UnicodeDecodeError:
        return value.decode("latin-1").strip()


_LINKS: Final = {
    b"plaudit-capability": "capability",
    b"plaudit-step": "step",
    b"plaudit-conversation-id": "conversation_id",
    b"plaudit-user-id": "user_id",
}


def read_headers(raw: Iterable[tuple[bytes, bytes]]) -> CallHeaders:
    """Sort a request's headers (ASGI: lowercase names) into Plaudit's and the upstream's."""
    call = CallHeaders()
    for name, value in raw:
        if name.startswith(PLAUDIT_PREFIX):
            _read_plaudit(call, name, value)
        elif name == b"traceparent":
            # an unreadable traceparent starts a new trace, as OpenTelemetry's propagator does
            call.parent = parse_traceparent(_text(value))
        elif name not in HOP_BY_HOP and name not in _REMADE_UPSTREAM:
            call.upstream.append((name, value))
    return call


def _read_plaudit(call: CallHeaders, name: bytes, value: bytes) -> None:
    if name == b"plaudit-auth":
        call.auth = _text(value)
    elif name in _LINKS:
        setattr(call, _LINKS[name], _text(value) or None)
    elif name == TOKEN_HEADER:
        call.wants_token = _text(value).lower() == "request"
    elif name == b"plaudit-feedback":
        call.feedback.append(_text(value))


def upstream_headers(call: CallHeaders, trace_id: str, span_id: str) -> RawHeaders:
    """The caller's headers for the upstream, with trace context naming the proxy's span."""
    return [*call.upstream, (b"traceparent", format_traceparent(trace_id, span_id).encode())]


def answer_headers(
    upstream: Iterable[tuple[bytes, bytes]],
    trace_id: str,
    span_id: str,
    token: str | None,
    feedback_status: str | None,
) -> RawHeaders:
    """The upstream's answer headers for the caller, with the span's ids (and token)."""
    headers = [(name, value) for name, value in upstream if name.lower() not in HOP_BY_HOP]
    headers.append((TRACE_ID_HEADER, trace_id.encode()))
    headers.append((SPAN_ID_HEADER, span_id.encode()))
    if token is not None:
        headers.append((TOKEN_HEADER, token.encode()))
    if feedback_status is not None:
        headers.append((FEEDBACK_STATUS_HEADER, feedback_status.encode()))
    return headers


# name=value pairs separated by `;`; a value is a token or a "quoted string" with \-escapes.
_PAIR: Final = re.compile(
    r'\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*?)\s*(?:;|$)', re.DOTALL
)
_UNESCAPE: Final = re.compile(r"\\(.)", re.DOTALL)
_NUMBER: Final = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_JSON_WORDS: Final[dict[str, Any]] = {"true": True, "false": False, "null": None}
# Parameters whose unquoted values are numbers or booleans when they look like one.
_TYPED: Final = frozenset({"value"})


def parse_feedback(text: str) -> dict[str, Any]:
    """`name=response-quality; value=-1; span_id=…; comment="…"` as a raw feedback item.

    Raises ValueError saying what is wrong with the header.
    """
    item: dict[str, Any] = {}
    position = 0
    text = text.strip()
    while position < len(text):
        match = _PAIR.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"cannot read {text[position : position + 40]!r}: expected name=value")
        key, raw = match.group(1), match.group(2)
        if key in item:
            raise ValueError(f"{key} is given twice")
        item[key] = _value(key, raw)
        position = match.end()
    if not item:
        raise ValueError("the header is empty; expected name=…; value=…")
    return item


def _value(key: str, raw: str) -> Any:
    if raw.startswith('"'):
        return _UNESCAPE.sub(r"\1", raw[1:-1])
    if key in _TYPED:
        if _NUMBER.match(raw):
            number = float(raw)
            return int(number) if number.is_integer() and "." not in raw else number
        if raw in _JSON_WORDS:
            return _JSON_WORDS[raw]
    return raw
