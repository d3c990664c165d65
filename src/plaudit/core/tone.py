"""Whether a feedback value is good news, bad news or neither, for marks that colour it.

A 👍, `true` or a rating in the top quarter of its declared range is good; a 👎, `false` or a
rating in the bottom quarter is bad. Numbers without a declared range, labels, text, signals and
corrections say nothing either way: guessing would colour a latency of 4 s like 4 stars.
"""

from enum import StrEnum
from typing import Any


class Tone(StrEnum):
    """How a mark is coloured."""

    GOOD = "good"
    BAD = "bad"
    NEUTRAL = "neutral"


def tone(kind: str, value: Any, low: float | None = None, high: float | None = None) -> Tone:
    """The tone of `value` of `kind`; `low` and `high` are a number's declared range."""
    if kind == "thumb":
        return Tone.GOOD if value == 1 else Tone.BAD if value == -1 else Tone.NEUTRAL
    if kind == "bool" and isinstance(value, bool):
        return Tone.GOOD if value else Tone.BAD
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        if low is None or high is None or high <= low:
            return Tone.NEUTRAL
        share = (value - low) / (high - low)
        return Tone.GOOD if share >= 0.75 else Tone.BAD if share <= 0.25 else Tone.NEUTRAL
    return Tone.NEUTRAL
