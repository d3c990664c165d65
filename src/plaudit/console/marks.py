"""Feedback as marks on pages: short text, a text alternative, and a tone for its colour.

The tone (good, bad, neutral) follows the value: a 👍 or 4 of 5 stars is never drawn like a 👎.
A number's range comes from the project's feedback config (cached a minute, like the capability
list); without one a number is neutral.
"""

from typing import Any, Final

from sqlalchemy import Connection

from plaudit.console.cache import cached
from plaudit.console.explorer import show_value
from plaudit.console.pages import SpanFeedback
from plaudit.core.tone import tone
from plaudit.server.state import ServerState
from plaudit.store.configs import list_configs

Ranges = dict[str, tuple[float | None, float | None]]
RANGE_SECONDS: Final = 60.0


def _ranges(connection: Connection, project: str) -> Ranges:
    return {
        config["name"]: (config.get("min"), config.get("max"))
        for config in list_configs(connection, project)
        if config.get("kind") == "number"
    }


async def number_ranges(state: ServerState, project: str) -> Ranges:
    """Declared ranges of the project's number feedback, by name."""

    async def compute() -> Ranges:
        return await state.read(_ranges, project)

    return await cached(("number-ranges", id(state), project), RANGE_SECONDS, compute)


def badge(
    ranges: Ranges,
    *,
    id: str,
    name: str,
    kind: str,
    value: Any,
    comment: str | None = None,
    user_id: str | None = None,
) -> SpanFeedback:
    """A feedback event as a badge: what it shows, what it says to a screen reader, its tone."""
    shown, label = show_value(kind, value)
    low, high = ranges.get(name, (None, None))
    if kind == "number" and low is not None and high is not None:
        label = f"{value:g} of {high:g}" if isinstance(value, int | float) else label
    return SpanFeedback(
        id, name, shown, comment or "", user_id or "", label=label,
        tone=tone(kind, value, low, high).value,
    )  # fmt: skip


def event_badge(ranges: Ranges, event: dict[str, Any]) -> SpanFeedback:
    """A badge from an event as the store or the API gives it."""
    return badge(
        ranges, id=event["id"], name=event["name"], kind=event["kind"], value=event["value"],
        comment=event.get("comment"), user_id=event.get("user_id"),
    )  # fmt: skip


def mark_badge(ranges: Ranges, mark: Any) -> SpanFeedback:
    """A badge from a `trace_summaries.FeedbackMark`."""
    return badge(
        ranges, id=mark.id, name=mark.name, kind=mark.kind, value=mark.value,
        comment=mark.comment, user_id=mark.user_id,
    )  # fmt: skip
