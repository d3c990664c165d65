"""What the dataset and annotation queue routes share: who may call them, checked names from
paths, and name cursors."""

import binascii
import re
from typing import Any, Final

import msgspec
from litestar import Request

from plaudit.core import base64url
from plaudit.core.access import Principal, Scope
from plaudit.core.validation import Issue
from plaudit.errors import BadRequest, ValidationFailed
from plaudit.server.auth import authenticate, require
from plaudit.server.state import state_of

NAME: Final = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


async def reader(request: Request[Any, Any, Any]) -> Principal:
    """A caller who may read datasets and queues (browser tokens may not: 403)."""
    principal = await authenticate(request, state_of(request))
    require(principal, Scope.READ)
    return principal


async def editor(request: Request[Any, Any, Any]) -> Principal:
    """A caller who may change datasets and queues: `read` and `feedback:write` (or admin)."""
    principal = await reader(request)
    require(principal, Scope.FEEDBACK_WRITE)
    return principal


def checked_name(name: str, pointer: str = "/name") -> str:
    """A dataset or queue name from a path, refused (422) when no such name can exist."""
    if not NAME.match(name):
        problem = "must be 1 to 128 characters of [A-Za-z0-9_.-]"
        raise ValidationFailed(f"{pointer}: {problem}", issues=[Issue(pointer, problem)])
    return name


def encode_name_cursor(name: str) -> str:
    """An opaque cursor after `name`."""
    return base64url.encode(msgspec.json.encode(name))


def decode_name_cursor(cursor: str | None) -> str | None:
    """The name a cursor stands after; 400 if it is not one of ours."""
    if cursor is None:
        return None
    try:
        decoded = msgspec.json.decode(base64url.decode(cursor))
    except (binascii.Error, msgspec.DecodeError, ValueError):
        decoded = None
    if not isinstance(decoded, str) or "\x00" in decoded:  # no name or id holds a NUL
        raise BadRequest("`cursor` is not a cursor this server gave out")
    return decoded


def page_of(items: list[dict[str, Any]], limit: int, key: str) -> dict[str, Any]:
    """`{"items","next_cursor"}` of a read of `limit + 1` items."""
    more = len(items) > limit
    cursor = encode_name_cursor(items[limit - 1][key]) if more else None
    return {"items": items[:limit], "next_cursor": cursor}
