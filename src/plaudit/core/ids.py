"""Identifiers: OpenTelemetry trace and span ids, W3C traceparent, UUIDv7 event ids."""

import os
import re
import time
import uuid
from typing import Final

TRACE_ID_RE: Final = re.compile(r"[0-9a-f]{32}")
SPAN_ID_RE: Final = re.compile(r"[0-9a-f]{16}")
EVENT_ID_PATTERN: Final = r"^[A-Za-z0-9_-]{1,64}$"
_TRACEPARENT_RE: Final = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE: Final = "0" * 32
_ZERO_SPAN: Final = "0" * 16


_EVENT_ID_RE: Final = re.compile(EVENT_ID_PATTERN.strip("^$"))


def is_event_id(value: str) -> bool:
    """Whether `value` could be a feedback event id (1-64 of A-Z a-z 0-9 _ -)."""
    return _EVENT_ID_RE.fullmatch(value) is not None


def is_trace_id(value: str) -> bool:
    """Whether `value` is a valid (lowercase hex, non-zero) trace id."""
    return TRACE_ID_RE.fullmatch(value) is not None and value != _ZERO_TRACE


def is_span_id(value: str) -> bool:
    """Whether `value` is a valid (lowercase hex, non-zero) span id."""
    return SPAN_ID_RE.fullmatch(value) is not None and value != _ZERO_SPAN


def parse_traceparent(value: str) -> tuple[str, str] | None:
    """The (trace_id, span_id) of a W3C `traceparent` header value, or None if malformed."""
    match = _TRACEPARENT_RE.fullmatch(value.strip().lower())
    if match is None or match.group(1) == "ff":
        return None
    trace_id, span_id = match.group(2), match.group(3)
    if not (is_trace_id(trace_id) and is_span_id(span_id)):
        return None
    return trace_id, span_id


def format_traceparent(trace_id: str, span_id: str, sampled: bool = True) -> str:
    """A W3C `traceparent` value for a span."""
    return f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}"


def uuid7() -> str:
    """A new time-ordered UUIDv7 (RFC 9562), as a string.

    Python 3.11 has no `uuid.uuid7`; ordering by time keeps server-made ids index-friendly.
    """
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 68) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))
