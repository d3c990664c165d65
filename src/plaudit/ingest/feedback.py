"""Feedback request bodies → validated events and per-item results.

Accepts one event, `{"feedback": [...]}`, and `navigator.sendBeacon` bodies (`text/plain`, with the
token in the body as `"token"`).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import msgspec

from plaudit.core import limits
from plaudit.core.configs import FeedbackConfig
from plaudit.core.feedback import FeedbackEvent, Source
from plaudit.core.validation import Issue, validate_feedback
from plaudit.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

JSON_TYPES: Final = frozenset({"application/json", "text/plain", ""})
_BODY_KEYS: Final = frozenset({"feedback", "token"})


@dataclass(slots=True)
class FeedbackBody:
    """A decoded feedback request: its raw items, whether it was a batch, and a body token."""

    items: list[Any]
    batch: bool
    token: str | None


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode_body(body: bytes, content_type: str | None) -> FeedbackBody:
    """Decode and shape-check a request body; raises a `PlauditError` for the whole request."""
    media = media_type(content_type)
    if media not in JSON_TYPES and not media.endswith("+json"):
        raise UnsupportedMediaType(
            f"feedback is JSON: send Content-Type application/json (or text/plain for "
            f"sendBeacon), not {media!r}"
        )
    if len(body) > limits.MAX_FEEDBACK_BODY_BYTES:
        raise PayloadTooLarge(
            f"the body is {len(body)} bytes; the limit is {limits.MAX_FEEDBACK_BODY_BYTES}",
            limit="feedback_body_bytes",
        )
    try:
        decoded = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError) as error:
        raise BadRequest(f"the body is not valid JSON: {_decode_reason(error)}") from None
    except UnicodeDecodeError:
        raise BadRequest("the body holds bytes that are not UTF-8; JSON must be UTF-8") from None
    if not isinstance(decoded, dict):
        raise BadRequest('the body must be a JSON object: one event or {"feedback": [...]}')
    token = decoded.pop("token", None)
    if token is not None and not isinstance(token, str):
        raise BadRequest("`token` must be a string")
    if "feedback" in decoded:
        if set(decoded) - _BODY_KEYS:
            extra = sorted(set(decoded) - _BODY_KEYS)
            raise BadRequest(f"a batch body holds only `feedback` (and `token`), not {extra}")
        items = decoded["feedback"]
        if not isinstance(items, list):
            raise BadRequest("`feedback` must be a list of events")
        if len(items) > limits.MAX_BATCH_EVENTS:
            raise PayloadTooLarge(
                f"the batch has {len(items)} events; the limit is {limits.MAX_BATCH_EVENTS}",
                limit="batch_events",
            )
        return FeedbackBody(items, True, token)
    return FeedbackBody([decoded], False, token)


def _decode_reason(error: Exception) -> str:
    if isinstance(error, RecursionError):
        return "it is nested too deeply"
    text = str(error)
    if "truncated" in text:
        return f"{text} (this also happens with an unpaired UTF-16 surrogate escape)"
    return text


@dataclass(slots=True)
class Checked:
    """Items after validation: the events to store and the results of those refused."""

    events: list[tuple[int, str, FeedbackEvent]] = field(default_factory=list)
    rejected: dict[int, list[Issue]] = field(default_factory=dict)


def check_items(
    body: FeedbackBody,
    raw_body: bytes,
    *,
    now: datetime,
    project_of: Callable[[Any], str | Issue],
    configs: Callable[[str], Mapping[str, FeedbackConfig]],
    forced_source: Source | None,
) -> Checked:
    """Validate every item; `project_of` picks (or refuses) each item's project."""
    checked = Checked()
    may_hold_nul = b"\\u0000" in raw_body
    for index, raw in enumerate(body.items):
        pointer = f"/feedback/{index}" if body.batch else ""
        project = project_of(raw)
        if isinstance(project, Issue):
            checked.rejected[index] = [Issue(pointer + project.pointer, project.message)]
            continue
        result = validate_feedback(
            raw,
            pointer=pointer,
            now=now,
            configs=configs(project),
            forced_source=forced_source,
            check_nul=may_hold_nul,
        )
        if isinstance(result, list):
            checked.rejected[index] = result
        else:
            checked.events.append((index, project, result))
    return checked
