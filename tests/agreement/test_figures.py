"""The pure arithmetic of `core.agreement`, on cases small enough to check at a glance."""

from datetime import UTC, datetime, timedelta

import pytest

from plaudit.core.agreement import (
    AgreementRequest,
    Confusion,
    SpanPair,
    cohen_kappa,
    figures_of,
    parse_request,
    pearson,
)

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_kappa_is_undefined_when_every_span_got_one_verdict_from_both() -> None:
    assert cohen_kappa(Confusion(tp=4)) is None
    assert cohen_kappa(Confusion(tn=4)) is None
    assert cohen_kappa(Confusion(fp=4)) == 0.0  # constant but opposite: no better than chance
    assert cohen_kappa(Confusion(tp=2, tn=2)) == 1.0
    assert cohen_kappa(Confusion(fp=2, fn=2)) == -1.0


def test_pearson_needs_three_values_and_two_varying_sides() -> None:
    assert pearson([1, 2], [1, 2]) is None
    assert pearson([1, 1, 1], [1, 2, 3]) is None
    assert pearson([1, 2, 3], [0.7, 0.7, 0.7]) is None
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_no_pairs_give_no_figures() -> None:
    empty = figures_of([])
    assert (empty.n, empty.agreement, empty.kappa, empty.pearson) == (0, None, None, None)
    one = figures_of([SpanPair(1.0, True, 0.2, False)])
    assert one.confusion == Confusion(fn=1) and one.agreement == 0.0


def test_parameters_parse_into_a_request() -> None:
    params = [("user", "q"), ("evaluator", "j"), ("by", "capability"), ("since", "7d"),
              ("until", "2026-02-01")]  # fmt: skip
    assert parse_request(params, NOW) == AgreementRequest(
        "q", "j", "capability", NOW - timedelta(days=7), datetime(2026, 2, 1, tzinfo=UTC)
    )
    issues = parse_request([("by", "day"), ("since", "soon"), ("x", "1")], NOW)
    assert isinstance(issues, list)
    assert sorted(i.pointer for i in issues) == ["/by", "/evaluator", "/since", "/user", "/x"]
