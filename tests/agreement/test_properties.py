"""Agreement on both stores equals an independent computation from the events themselves.

The oracle here shares no code with Plaudit: it picks each user's latest event and the
evaluator's latest event from the raw events, takes exact means (fractions), reads pass/fail,
and computes κ by its textbook formula and Pearson's r with `statistics.correlation`.
Numbers are multiples of 1/8, so the server's floating-point means are exact too.
"""

import itertools
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.agreement.events import event, send
from tests.conftest import LiveServer

START = datetime(2026, 2, 1, tzinfo=UTC)
KINDS = ("thumb", "bool", "number")
_counter = itertools.count(1)


@dataclass(frozen=True)
class Raw:
    """One event as the oracle sees it."""

    span: int
    user: str | None
    source: str
    value: Any
    tick: int
    number: int  # its position: ids sort in this order


@dataclass(frozen=True)
class Case:
    user_kind: str
    judge_kind: str
    user_threshold: float | None
    judge_threshold: float | None
    capabilities: list[str | None]
    events: list[Raw]


# Two users split on a bool (a tie fails), beside a judge who said true.
SPLIT_BOOL = Case("bool", "bool", None, None, [None], [
    Raw(0, "u1", "end_user", True, 0, 0), Raw(0, "u2", "end_user", False, 0, 1),
    Raw(0, None, "evaluator", True, 0, 2),
])  # fmt: skip


def values(kind: str) -> st.SearchStrategy[Any]:
    if kind == "thumb":
        return st.sampled_from([1, -1])
    if kind == "bool":
        return st.booleans()
    return st.integers(0, 8).map(lambda eighths: eighths / 8)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    user_kind, judge_kind = draw(st.sampled_from(KINDS)), draw(st.sampled_from(KINDS))
    thresholds = st.sampled_from([None, 0.25, 0.5, 0.625])
    spans = draw(st.integers(1, 6))
    capabilities = draw(st.lists(st.sampled_from(["a", "b", None]), min_size=spans,
                                 max_size=spans))  # fmt: skip
    users = st.sampled_from(["u1", "u2", "u3", None])
    plans = st.lists(
        st.tuples(
            st.integers(0, spans - 1),
            st.sampled_from(["end_user", "end_user", "evaluator", "annotator"]),
            users,
            st.integers(0, 3),
        ),
        min_size=1,
        max_size=30,
    )
    events = []
    for number, (span, source, user, tick) in enumerate(draw(plans)):
        kind = judge_kind if source == "evaluator" else user_kind
        events.append(Raw(span, user, source, draw(values(kind)), tick, number))
    return Case(
        user_kind, judge_kind,
        draw(thresholds) if user_kind == "number" else None,
        draw(thresholds) if judge_kind == "number" else None,
        capabilities, events,
    )  # fmt: skip


def _numeric(value: Any) -> Fraction:
    return Fraction(int(value)) if isinstance(value, bool) else Fraction(value)


def _passes(kind: str, value: Fraction, threshold: float | None) -> bool:
    if kind == "thumb":
        return value > 0
    if kind == "bool":
        return value > Fraction(1, 2)
    return value >= Fraction(0.5 if threshold is None else threshold)


def oracle(case: Case, by: bool) -> list[dict[str, Any]]:
    latest_of_user: dict[tuple[int, Any], Raw] = {}
    latest_judge: dict[int, Raw] = {}
    for raw in case.events:
        if raw.source == "end_user":
            key = (raw.span, raw.user if raw.user is not None else ("anonymous", raw.number))
            held = latest_of_user.get(key)
            if held is None or (raw.tick, raw.number) > (held.tick, held.number):
                latest_of_user[key] = raw
        elif raw.source == "evaluator":
            held = latest_judge.get(raw.span)
            if held is None or (raw.tick, raw.number) > (held.tick, held.number):
                latest_judge[raw.span] = raw
    users_of: dict[int, list[Fraction]] = defaultdict(list)
    for (span, _), raw in latest_of_user.items():
        users_of[span].append(_numeric(raw.value))
    groups: dict[Any, list[tuple[Fraction, bool, Fraction, bool]]] = defaultdict(list)
    for span in sorted(set(users_of) & set(latest_judge)):
        mean = sum(users_of[span]) / len(users_of[span])
        judged = _numeric(latest_judge[span].value)
        key = case.capabilities[span] if by else None
        groups[key].append((
            mean, _passes(case.user_kind, mean, case.user_threshold),
            judged, _passes(case.judge_kind, judged, case.judge_threshold),
        ))  # fmt: skip
    return [
        {"capability": key, **_figures(groups[key])}
        for key in sorted(groups, key=lambda k: (k is None, k or ""))
    ]


def _figures(pairs: list[tuple[Fraction, bool, Fraction, bool]]) -> dict[str, Any]:
    n = len(pairs)
    tp = sum(1 for _, u, _, e in pairs if e and u)
    fp = sum(1 for _, u, _, e in pairs if e and not u)
    fn = sum(1 for _, u, _, e in pairs if not e and u)
    tn = n - tp - fp - fn
    observed = (tp + tn) / n
    judge_yes, user_yes = (tp + fp) / n, (tp + fn) / n
    chance = judge_yes * user_yes + (1 - judge_yes) * (1 - user_yes)
    kappa = None if chance == 1 else (observed - chance) / (1 - chance)
    xs, ys = [float(p[0]) for p in pairs], [float(p[2]) for p in pairs]
    try:
        r = statistics.correlation(xs, ys) if n >= 3 else None
    except statistics.StatisticsError:  # a constant side
        r = None
    return {"n": n, "agreement": observed, "kappa": kappa, "pearson": r,
            "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn}}  # fmt: skip


def _same(answer: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert [(a["capability"], a["n"], a["confusion"]) for a in answer] == [
        (e["capability"], e["n"], e["confusion"]) for e in expected
    ]
    for got, want in zip(answer, expected, strict=True):
        for figure in ("agreement", "kappa", "pearson"):
            if want[figure] is None:
                assert got[figure] is None, (figure, got, want)
            else:
                assert got[figure] == pytest.approx(want[figure], abs=1e-9), (figure, got, want)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    database=None,
)  # fmt: skip
@given(case=cases())
@example(case=SPLIT_BOOL)
def test_agreement_equals_an_independent_computation(live_server: LiveServer, case: Case) -> None:
    run = f"{next(_counter):08x}"
    user, judge = f"p-u-{run}", f"p-j-{run}"
    with live_server.client() as api:
        for name, kind, threshold in ((user, case.user_kind, case.user_threshold),
                                      (judge, case.judge_kind, case.judge_threshold)):  # fmt: skip
            if threshold is not None:
                config = {"kind": kind, "pass_threshold": threshold}
                assert api.put(f"/v1/feedback-configs/{name}", json=config).status_code == 200
        raws = [
            event(
                judge if raw.source == "evaluator" else user, f"{run}{raw.span:08x}", raw.value,
                case.judge_kind if raw.source == "evaluator" else case.user_kind,
                user=raw.user, source=raw.source, capability=case.capabilities[raw.span],
                at=(START + timedelta(seconds=raw.tick)).isoformat(),
                id=f"p{run}-{raw.number:04d}",
            )
            for raw in case.events
        ]  # fmt: skip
        if raws:
            send(api, raws)
        for by in (True, False):
            params = {"user": user, "evaluator": judge, **({"by": "capability"} if by else {})}
            answer = api.get("/v1/agreement", params=params)
            assert answer.status_code == 200, answer.text
            _same(answer.json()["items"], oracle(case, by))
