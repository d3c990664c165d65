"""`GET /v1/agreement` on both stores, against figures worked out by hand, and its problems."""

import math
from typing import Any

import httpx
import pytest

from tests.agreement.events import event, send, span_id
from tests.conftest import LiveServer

EARLIER = "2026-01-10T09:00:00Z"
DAY_BEFORE = "2026-01-09T10:00:00Z"


def hand_example(api: httpx.Client, unique: str) -> tuple[str, str]:
    """Thumbs from end users (`q-…`) and a number from a judge (`j-…`, pass at 0.5)."""
    user, judge = f"q-{unique}", f"j-{unique}"
    s = [span_id(unique, n) for n in range(11)]

    def thumb(n: int, value: int, who: str | None, **extra: Any) -> dict[str, Any]:
        capability = "search" if n <= 5 else "summarize"
        return event(user, s[n], value, "thumb", user=who, capability=capability, **extra)

    def score(n: int, value: float, **extra: Any) -> dict[str, Any]:
        capability = "search" if n <= 5 else "summarize"
        return event(judge, s[n], value, "number", source="evaluator", capability=capability,
                     **extra)  # fmt: skip

    send(api, [
        # search
        thumb(1, 1, "alice", at=DAY_BEFORE), thumb(1, 1, "bob", at=DAY_BEFORE),
        score(1, 0.9, at=DAY_BEFORE),                                   # users pass, judge passes
        thumb(2, 1, "alice", at=EARLIER), thumb(2, -1, "alice"),        # alice changed her mind
        score(2, 0.8),                                                  # users fail, judge passes
        thumb(3, 1, "alice"), thumb(3, -1, "bob"), score(3, 0.2),       # mean 0 fails; both fail
        thumb(4, 1, "carol"), score(4, 0.9, at=EARLIER), score(4, 0.4), # judge's latest fails
        thumb(5, 1, None), thumb(5, -1, None), thumb(5, 1, None),       # 3 anonymous users: 1/3
        score(5, 0.5),                                                  # 0.5 is the threshold
        # summarize
        thumb(6, -1, "dave"), score(6, 0.1),
        thumb(7, 1, "dave"), score(7, 0.7),
        thumb(8, 1, "erin"),                                            # no judge: left out
        score(9, 0.9),                                                  # no users: left out
        event(user, s[10], 1, "thumb", source="annotator", user="rev"), # not an end user
        score(10, 0.9),
        event(judge, s[8], 0.9, "number", user="erin"),                 # not an evaluator
    ])  # fmt: skip
    return user, judge


@pytest.fixture(scope="module")
def example(live_server: LiveServer) -> tuple[str, str]:
    with live_server.client() as api:
        return hand_example(api, "a9e0c0de")


def agreement(api: httpx.Client, **params: str) -> list[dict[str, Any]]:
    answer = api.get("/v1/agreement", params=params)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_per_capability_figures_match_the_hand_computation(
    api: httpx.Client, example: tuple[str, str]
) -> None:
    user, judge = example
    search, summarize = agreement(api, user=user, evaluator=judge, by="capability")
    # search: spans 1 and 5 both pass (tp), 2 judge only (fp), 4 users only (fn), 3 neither (tn)
    assert search["capability"] == "search" and search["n"] == 5
    assert search["confusion"] == {"tp": 2, "fp": 1, "fn": 1, "tn": 1}
    assert search["agreement"] == pytest.approx(3 / 5)
    # po = 3/5; both sides pass 3 of 5: pe = (3/5)(3/5) + (2/5)(2/5) = 13/25; κ = (15/25 −
    # 13/25) / (12/25) = 1/6
    assert search["kappa"] == pytest.approx(1 / 6)
    # users' means x = 1, −1, 0, 1, 1/3 (mean 4/15); judge y = .9, .8, .2, .4, .5 (mean .56)
    # Σdx·dy = (11·.34 − 19·.24 + 4·.36 − 11·.16 − 1·.06)/15 = −1.2/15 = −.08
    # Σdx² = (121 + 361 + 16 + 121 + 1)/225 = 620/225; Σdy² = .332
    assert search["pearson"] == pytest.approx(-0.08 / math.sqrt(620 / 225 * 0.332))
    assert search["pearson"] == pytest.approx(-0.083640, abs=1e-6)
    # summarize: span 6 both fail, 7 both pass; two spans are too few for Pearson
    assert summarize == {
        "capability": "summarize", "n": 2, "agreement": 1.0, "kappa": 1.0, "pearson": None,
        "confusion": {"tp": 1, "fp": 0, "fn": 0, "tn": 1},
    }  # fmt: skip


def test_without_by_one_item_covers_every_span(api: httpx.Client, example: tuple[str, str]) -> None:
    user, judge = example
    [everything] = agreement(api, user=user, evaluator=judge)
    assert everything["capability"] is None and everything["n"] == 7
    assert everything["confusion"] == {"tp": 3, "fp": 1, "fn": 1, "tn": 2}
    assert everything["agreement"] == pytest.approx(5 / 7)
    # po = 5/7; pe = (4/7)(4/7) + (3/7)(3/7) = 25/49; κ = (35 − 25)/(49 − 25) = 5/12
    assert everything["kappa"] == pytest.approx(5 / 12)
    # x = 1, −1, 0, 1, 1/3, −1, 1 (mean 4/21); y = .9, .8, .2, .4, .5, .1, .7 (mean 18/35)
    # Σxy = 19/15, Σx² = 46/9, Σy² = 12/5; so Σdx·dy = 19/15 − 7·(4/21)(18/35) = 61/105,
    # Σdx² = 46/9 − 7·(4/21)² = 34/7, Σdy² = 12/5 − 7·(18/35)² = 96/175
    assert everything["pearson"] == pytest.approx(61 / 105 / math.sqrt(34 / 7 * 96 / 175))
    assert everything["pearson"] == pytest.approx(0.355905, abs=1e-6)


def test_since_leaves_out_older_events(api: httpx.Client, example: tuple[str, str]) -> None:
    user, judge = example
    since = "2026-01-10T00:00:00Z"
    search = agreement(api, user=user, evaluator=judge, by="capability", since=since)[0]
    # span 1 (the day before) is gone: one of each verdict, po = 1/2 = pe, κ = 0
    assert search["confusion"] == {"tp": 1, "fp": 1, "fn": 1, "tn": 1}
    assert search["agreement"] == 0.5 and search["kappa"] == 0.0
    assert agreement(api, user=user, evaluator=judge, since="2026-01-11") == []
    assert agreement(api, user=user, evaluator=judge, until="2026-01-10")[0]["n"] == 1


def test_pass_thresholds_come_from_feedback_configs(api: httpx.Client, unique: str) -> None:
    stars, judge = f"stars-{unique}", f"judge-{unique}"
    for name, threshold in ((stars, 4), (judge, 0.3)):
        config = {"kind": "number", "pass_threshold": threshold}
        assert api.put(f"/v1/feedback-configs/{name}", json=config).status_code == 200
    s = [span_id(unique, n) for n in range(3)]
    send(api, [
        event(stars, s[0], 5, "number", user="a"), event(stars, s[0], 3, "number", user="b"),
        event(judge, s[0], 0.35, "number", source="evaluator"),  # mean 4 ≥ 4, .35 ≥ .3: tp
        event(stars, s[1], 3, "number", user="a"),
        event(judge, s[1], 0.25, "number", source="evaluator"),  # both fail: tn
        event(stars, s[2], 4, "number", user="a"),
        event(judge, s[2], 0.1, "number", source="evaluator"),   # users pass, judge fails: fn
    ])  # fmt: skip
    [item] = agreement(api, user=stars, evaluator=judge)
    assert item["confusion"] == {"tp": 1, "fp": 0, "fn": 1, "tn": 1}
    # po = 2/3; pe = (1/3)(2/3) + (2/3)(1/3) = 4/9; κ = (6 − 4)/(9 − 4) = 2/5
    assert item["agreement"] == pytest.approx(2 / 3) and item["kappa"] == pytest.approx(0.4)
    # x = 4, 3, 4 (mean 11/3); y = .35, .25, .1 (mean .7/3): Σdx·dy = −1/60, Σdx² = 2/3,
    # Σdy² = 19/600
    assert item["pearson"] == pytest.approx(-1 / 60 / math.sqrt(2 / 3 * 19 / 600))


def test_a_pass_threshold_needs_a_finite_number_and_a_number_kind(api: httpx.Client) -> None:
    for config in ({"kind": "thumb", "pass_threshold": 0.5}, {"kind": "number",
                   "pass_threshold": "high"}):  # fmt: skip
        answer = api.put("/v1/feedback-configs/threshold-check", json=config)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("params", "pointer"),
    [
        ({"evaluator": "j"}, "/user"),
        ({"user": "q"}, "/evaluator"),
        ({"user": "", "evaluator": "j"}, "/user"),
        ({"user": "q" * 129, "evaluator": "j"}, "/user"),
        ({"user": "q", "evaluator": "j", "by": "step"}, "/by"),
        ({"user": "q", "evaluator": "j", "since": "yesterday"}, "/since"),
        ({"user": "q", "evaluator": "j", "until": "99999d"}, "/until"),
        ({"user": "q", "evaluator": "j", "capability": "search"}, "/capability"),
    ],
)
def test_bad_parameters_are_named_in_a_problem(
    api: httpx.Client, params: dict[str, str], pointer: str
) -> None:
    answer = api.get("/v1/agreement", params=params)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == "/problems/validation"
    assert [e["pointer"] for e in problem["errors"]] == [pointer]


def test_a_repeated_parameter_is_refused(api: httpx.Client) -> None:
    answer = api.get("/v1/agreement?user=a&user=b&evaluator=j")
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"pointer": "/user", "detail": "given more than once"}]


def test_reading_needs_the_read_scope(live_server: LiveServer) -> None:
    with live_server.client(live_server.browser_token) as browser:
        answer = browser.get("/v1/agreement", params={"user": "q", "evaluator": "j"})
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
