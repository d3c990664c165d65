"""A feedback value's tone: what colours it in the console."""

import pytest

from plaudit.core.tone import Tone, tone


@pytest.mark.parametrize(
    ("kind", "value", "low", "high", "expected"),
    [
        ("thumb", 1, None, None, Tone.GOOD),
        ("thumb", -1, None, None, Tone.BAD),
        ("bool", True, None, None, Tone.GOOD),
        ("bool", False, None, None, Tone.BAD),
        ("number", 4, 1, 5, Tone.GOOD),
        ("number", 5, 1, 5, Tone.GOOD),
        ("number", 3, 1, 5, Tone.NEUTRAL),
        ("number", 2, 1, 5, Tone.BAD),
        ("number", 1, 1, 5, Tone.BAD),
        ("number", 4, None, None, Tone.NEUTRAL),  # a latency of 4 s is not 4 stars
        ("number", 4, 5, 5, Tone.NEUTRAL),
        ("number", True, 0, 1, Tone.NEUTRAL),
        ("enum", "hallucination", None, None, Tone.NEUTRAL),
        ("signal", None, None, None, Tone.NEUTRAL),
        ("correction", "fixed", None, None, Tone.NEUTRAL),
    ],
)
def test_tone_follows_the_value(
    kind: str, value: object, low: float | None, high: float | None, expected: Tone
) -> None:
    assert tone(kind, value, low, high) is expected
