"""What a project's PII mode does to a feedback event's free text.

The free text is the `comment`, a `text` value, a `correction` value (a string or JSON) and
`expected`; names, enum labels, metadata and ids are not scanned. `redact` replaces each finding
with a placeholder (`[EMAIL]`, …) before the event is stored, `flag` keeps the text and records
the types found in `pii`, `off` does neither.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from plaudit.core.feedback import FeedbackEvent, Kind
from plaudit.core.pii import PiiType, ScanBudget, redact_json, scan_json


class PiiMode(StrEnum):
    """A project's choice of what happens to PII found in feedback text."""

    REDACT = "redact"
    FLAG = "flag"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class Screened:
    """An event's free text as it is to be stored, and the PII types found in it."""

    comment: str | None
    value: Any
    expected: Any
    found: frozenset[PiiType]

    @property
    def types(self) -> list[str]:
        """The types found, sorted, as stored in `pii`."""
        return sorted(t.value for t in self.found)


def has_free_text(event: FeedbackEvent) -> bool:
    """Whether the event holds any text that `screen` reads."""
    text_value = event.kind in (Kind.TEXT, Kind.CORRECTION) and event.value is not None
    return event.comment is not None or text_value or event.expected is not None


def screen(
    event: FeedbackEvent, mode: PiiMode, budget: ScanBudget | None = None
) -> Screened | None:
    """The event's free text handled per `mode`; None when nothing was found (or with `off`).

    `budget` bounds the scan's cost (see `ScanBudget`); share one across a request's events.
    """
    if mode is PiiMode.OFF or not has_free_text(event):
        return None
    text_value = event.kind in (Kind.TEXT, Kind.CORRECTION)
    free = [event.comment, event.value if text_value else None, event.expected]
    if mode is PiiMode.FLAG:
        found = scan_json(free, budget=budget)
        return Screened(event.comment, event.value, event.expected, found) if found else None
    (comment, value, expected), found = redact_json(free, budget=budget)
    if not found:
        return None
    return Screened(comment, value if text_value else event.value, expected, found)
