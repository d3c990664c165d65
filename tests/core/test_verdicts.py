"""The pass/fail rule shared by evaluations and agreement."""

from plaudit.core.configs import FeedbackConfig
from plaudit.core.feedback import Kind
from plaudit.core.verdicts import as_number, passes


def test_bools_pass_when_true_and_numbers_at_the_threshold() -> None:
    assert passes(True, None) is True and passes(False, None) is False
    assert passes(0.5, None) is True and passes(0.49, None) is False
    strict = FeedbackConfig(name="s", kind=Kind.NUMBER, pass_threshold=0.8)
    assert passes(0.8, strict) is True and passes(0.79, strict) is False
    assert passes("great", None) is None and passes(None, strict) is None


def test_thumbs_pass_above_zero_by_config_or_by_kind() -> None:
    thumb = FeedbackConfig(name="t", kind=Kind.THUMB)
    assert passes(1, thumb) is True and passes(-1, thumb) is False
    assert passes(0.2, None, Kind.THUMB) is True and passes(0, None, Kind.THUMB) is False
    assert passes(0.2, None) is False  # a plain number below the default threshold


def test_numbers_for_means() -> None:
    assert as_number(True) == 1.0 and as_number(False) == 0.0 and as_number(3) == 3.0
    assert as_number("x") is None


def test_a_pass_threshold_must_be_finite() -> None:
    config = FeedbackConfig(name="s", kind=Kind.NUMBER, pass_threshold=float("nan"))
    assert config.problem_with_itself() == "pass_threshold must be a finite number"
