"""Request bodies: read within a limit, decode JSON into a type, refuse with precise problems."""

from typing import Any, TypeVar

import msgspec
from litestar import Request

from plaudit.core import limits
from plaudit.core.validation import Issue, find_nul, issue_from_msgspec
from plaudit.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from plaudit.ingest.feedback import media_type

T = TypeVar("T")


async def read_body(request: Request[Any, Any, Any], limit: int, limit_name: str) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit, limit_name)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit, limit_name)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int, limit_name: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the body is at least {size} bytes; the limit is {limit}", limit=limit_name
    )


def decode_json(body: bytes, kind: type[T], content_type: str | None) -> T:
    """`body` as a `kind`; 415 for non-JSON, 400 for unreadable JSON, 422 with pointers."""
    media = media_type(content_type)
    if media and media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType(f"send Content-Type application/json, not {media!r}")
    try:
        raw = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        raise BadRequest("the body is not valid JSON") from None
    if where := find_nul(raw, ""):
        raise ValidationFailed(
            "strings must not contain NUL characters",
            issues=[Issue(where or "/", "must not contain NUL characters")],
        )
    try:
        return msgspec.convert(raw, kind)
    except msgspec.ValidationError as error:
        issue = issue_from_msgspec("", error)
        raise ValidationFailed(f"{issue.pointer}: {issue.message}", issues=[issue]) from None


async def json_body(request: Request[Any, Any, Any], kind: type[T]) -> T:
    """A bounded JSON request body decoded as `kind` (see `read_body` and `decode_json`)."""
    body = await read_body(request, limits.MAX_FEEDBACK_BODY_BYTES, "feedback_body_bytes")
    return decode_json(body, kind, request.headers.get("content-type"))
