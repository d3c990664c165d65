"""Feedback set as span attributes.

Apps instrumented the common way set `user_feedback` (`positive`/`negative`),
`user_feedback_rating` (a number), `user_feedback_comment`, `user_feedback_category` and
`feedback_reason` on a span, by OTLP or `PATCH`. Each becomes a feedback event on that span,
`source=end_user`:

| attribute | event name | kind |
|---|---|---|
| `user_feedback` | `user_feedback` | thumb (+1 / −1) |
| `user_feedback_rating` | `user_feedback_rating` | number |
| `user_feedback_category` | `user_feedback_category` | enum |
| `feedback_reason` | `feedback_reason` | enum |
| `user_feedback_comment` | the comment of the thumb, else of the rating, else a `text` event |

`user_feedback_timestamp` (RFC 3339) is the events' time. An event's id is derived from the span
and the event name, so a span exported again and again is stored once, and a changed value
(👍 turned 👎) is a revision with its history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

from plaudit.core.feedback import Source

THUMB: Final = "user_feedback"
RATING: Final = "user_feedback_rating"
COMMENT: Final = "user_feedback_comment"
CATEGORY: Final = "user_feedback_category"
REASON: Final = "feedback_reason"
TIMESTAMP: Final = "user_feedback_timestamp"
_THUMBS: Final = {"positive": 1, "negative": -1, "up": 1, "down": -1, "1": 1, "-1": -1}
_USERS: Final = ("enduser.id", "user.id")


def has_feedback(attributes: Mapping[str, Any]) -> bool:
    """Whether any feedback attribute is set (cheap: called for every ingested span)."""
    return (
        THUMB in attributes
        or RATING in attributes
        or COMMENT in attributes
        or CATEGORY in attributes
        or REASON in attributes
    )


def attribute_feedback(
    attributes: Mapping[str, Any],
    *,
    target: str,
    target_id: str,
    trace_id: str | None = None,
    user_id: str | None = None,
) -> list[dict[str, Any]]:
    """Raw feedback items for the feedback attributes of a span (`target="span"`) or trace.

    Values that cannot be read as their kind (a thumb that is neither positive nor negative)
    still become items, for the validator to refuse; callers skip what it refuses.
    """
    comment = attributes.get(COMMENT)
    items: list[dict[str, Any]] = []
    if THUMB in attributes:
        value = attributes[THUMB]
        items.append({"name": THUMB, "kind": "thumb", "value": _thumb(value)})
    if RATING in attributes:
        items.append({"name": RATING, "kind": "number", "value": attributes[RATING]})
    for name in (CATEGORY, REASON):
        if name in attributes:
            items.append({"name": name, "kind": "enum", "value": attributes[name]})
    if comment is not None:
        owner = next((i for i in items if i["name"] in (THUMB, RATING)), None)
        if owner is not None:
            owner["comment"] = comment
        else:
            items.append({"name": COMMENT, "kind": "text", "value": comment})
    users = (attributes[key] for key in _USERS if isinstance(attributes.get(key), str))
    user = user_id or next(users, None)
    base = {
        f"{target}_id": target_id,
        "trace_id": trace_id,
        "user_id": user,
        "timestamp": attributes.get(TIMESTAMP),
        "source": Source.END_USER.value,
    }
    for item in items:
        item.update({k: v for k, v in base.items() if v is not None})
        item["id"] = _event_id(target, target_id, item["name"])
    return items


def _thumb(value: Any) -> Any:
    if isinstance(value, str):
        return _THUMBS.get(value.strip().lower(), value)
    if isinstance(value, bool):
        return 1 if value else -1
    return value


def _event_id(target: str, target_id: str, name: str) -> str:
    # The span id alone (not the trace id): a PATCH names only the span, and must reach the same
    # event as the span's own export.
    digest = hashlib.sha256(f"{target}:{target_id}:{name}".encode()).hexdigest()
    return "attr-" + digest[:32]
