"""The one pass/fail rule, shared by evaluations (one score) and agreement (a span's mean)."""

from hypothesis import given
from hypothesis import strategies as st

from plaudit.core.configs import FeedbackConfig
from plaudit.core.feedback import Kind
from plaudit.core.verdicts import as_number, passes, score_passes


def test_pass_rules_by_kind() -> None:
    assert passes(0.01, {"thumb"}, 0.5) and not passes(0.0, {"thumb"}, 0.5)
    assert passes(2 / 3, {"bool"}, 0.9) and not passes(0.5, {"bool"}, 0.1)
    assert passes(0.5, {"number"}, 0.5) and not passes(0.49, {"number"}, 0.5)
    assert passes(0.2, {"thumb", "number"}, 0.2)  # mixed kinds read as numbers
    assert not passes(0.3, set(), 0.5) and passes(0.5, set())  # no kind: a number, default 0.5


def test_bools_pass_when_true_and_numbers_at_the_threshold() -> None:
    assert score_passes(True, None) is True and score_passes(False, None) is False
    assert score_passes(0.5, None) is True and score_passes(0.49, None) is False
    strict = FeedbackConfig(name="s", kind=Kind.NUMBER, pass_threshold=0.8)
    assert score_passes(0.8, strict) is True and score_passes(0.79, strict) is False
    assert score_passes(True, strict) is True  # a bool passes by its value, whatever the name
    assert score_passes("great", None) is None and score_passes(None, strict) is None


def test_thumbs_pass_above_zero_by_config_or_by_kind() -> None:
    thumb = FeedbackConfig(name="t", kind=Kind.THUMB)
    assert score_passes(1, thumb) is True and score_passes(-1, thumb) is False
    assert score_passes(0.2, None, Kind.THUMB) is True
    assert score_passes(0, None, Kind.THUMB) is False
    assert score_passes(0.2, None) is False  # a plain number below the default threshold


# A single value seen by agreement is a span with one user (its mean is the value itself): its
# verdict there must be the one an evaluation gives the same value as a score.
_SCORES = st.one_of(
    st.tuples(st.booleans(), st.just(Kind.BOOL)),
    st.tuples(st.sampled_from([1, -1]), st.just(Kind.THUMB)),
    st.tuples(st.floats(-10, 10, allow_nan=False), st.just(Kind.NUMBER)),
)


@given(_SCORES, st.one_of(st.none(), st.floats(-10, 10, allow_nan=False)))
def test_a_score_and_a_span_of_one_value_get_one_verdict(
    score: tuple[bool | float, Kind], threshold: float | None
) -> None:
    value, kind = score
    number_threshold = threshold if kind is Kind.NUMBER else None  # only numbers take one
    config = FeedbackConfig(name="n", kind=kind, pass_threshold=number_threshold)
    number = as_number(value)
    assert number is not None
    as_span = passes(number, {kind.value}, config.threshold)  # how agreement reads it
    assert score_passes(value, config) is as_span
    assert score_passes(value, None, kind if kind is Kind.THUMB else None) is passes(
        number, {kind.value}
    )
    # By hand, from the documented table, not through the code under test:
    if kind is Kind.BOOL:
        assert as_span is value
    elif kind is Kind.THUMB:
        assert as_span is (value == 1)
    else:
        assert as_span is (value >= (0.5 if threshold is None else threshold))


def test_numbers_for_means() -> None:
    assert as_number(True) == 1.0 and as_number(False) == 0.0 and as_number(3) == 3.0
    assert as_number("x") is None


def test_a_pass_threshold_must_be_finite() -> None:
    config = FeedbackConfig(name="s", kind=Kind.NUMBER, pass_threshold=float("nan"))
    assert config.problem_with_itself() == "pass_threshold must be a finite number"
