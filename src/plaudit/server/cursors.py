"""Opaque listing cursors: a position (time, id) that clients hand back unchanged."""

import binascii

import msgspec

from plaudit.core import base64url
from plaudit.core.ids import is_event_id
from plaudit.errors import BadRequest


def encode_cursor(position: tuple[int, str]) -> str:
    """An opaque cursor for a listing position."""
    return base64url.encode(msgspec.json.encode(position))


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The listing position of a cursor; BadRequest if it is not one of ours."""
    try:
        decoded = msgspec.json.decode(base64url.decode(cursor))
    except (binascii.Error, msgspec.DecodeError, ValueError, RecursionError):
        decoded = None
    match decoded:
        case [int(at), str(last_id)] if _INT64_MIN <= at <= _INT64_MAX and is_event_id(last_id):
            return at, last_id
    raise BadRequest("`cursor` is not a cursor this server gave out")


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
