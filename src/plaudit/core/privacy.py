"""What a project's PII mode does to a feedback event's free text (DESIGN §6).

The free text is the `comment`, a `text` value, a `correction` value (a string or JSON) and
`expected`; names, enum labels, metadata and ids are not scanned. `redact` replaces each finding
with a placeholder (`[EMAIL]`, …) before the event is stored, `flag` keeps the text and records
the types found in `pii`, `off` does neither.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from plaudit.core.feedback import FeedbackEvent, Kind
from plaudit.core.pii import PiiType, redact, redact_json, scan_json


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


def screen(event: FeedbackEvent, mode: PiiMode) -> Screened | None:
    """The event's free text handled per `mode`; None when nothing was found (or with `off`)."""
    if mode is PiiMode.OFF:
        return None
    text_value = event.kind in (Kind.TEXT, Kind.CORRECTION)
    if mode is PiiMode.FLAG:
        texts = [event.comment, event.value if text_value else None, event.expected]
        found = scan_json([t for t in texts if t is not None])
        if not found:
            return None
        return Screened(event.comment, event.value, event.expected, found)
    comment, in_comment = redact(event.comment) if event.comment else (event.comment, frozenset())
    value, in_value = redact_json(event.value) if text_value else (event.value, frozenset())
    expected, in_expected = redact_json(event.expected)
    found = in_comment | in_value | in_expected
    return Screened(comment, value, expected, found) if found else None
