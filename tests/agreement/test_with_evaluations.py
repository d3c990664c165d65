"""An evaluation run's scores are evaluator feedback, so agreement compares a run with what end
users said — on both stores, through the API from end to end."""

from typing import Any

import httpx

from tests.agreement.events import event, send
from tests.conftest import LiveServer
from tests.loop.spans import store_span


def evaluate_feedback(api: httpx.Client, name: str, feedback: str) -> tuple[str, list[Any]]:
    """A dataset `name` of the spans with `feedback` and a run over it: (run id, its rows)."""
    assert api.post("/v1/datasets", json={"name": name}).status_code == 201
    added = api.post(f"/v1/datasets/{name}/examples",
                     json={"from_feedback": {"query": f'name = "{feedback}"'}})  # fmt: skip
    assert added.status_code == 200, added.text
    run = api.post("/v1/evaluations", json={"dataset": name}).json()["id"]
    return run, api.get(f"/v1/evaluations/{run}/results").json()["items"]


def test_a_run_over_users_spans_is_compared_with_their_thumbs(
    api: httpx.Client, live_server: LiveServer, unique: str
) -> None:
    thumbs, score, name = f"thumbs-{unique}", f"judge-{unique}", f"rated-{unique}"
    spans = [store_span(live_server) for _ in range(4)]
    verdicts = ["up", "up", "down", "down"]  # what each span's user said
    send(api, [
        event(thumbs, span, verdict, "thumb", user="u1") | {"trace_id": trace}
        for (trace, span), verdict in zip(spans, verdicts, strict=True)
    ])  # fmt: skip
    run, examples = evaluate_feedback(api, name, thumbs)
    assert len(examples) == 4
    # Without a task, each score lands on the span the example came from. The judge passes
    # the first three spans and fails the last: agreeing on 1, 2 and 4, wrong on 3.
    by_span = {row["span_id"]: row["example_id"] for row in examples}
    assert set(by_span) == {span for _, span in spans}
    results = [
        {"example_id": by_span[span], "output": "x", "scores": {score: 0.9 if i < 3 else 0.1}}
        for i, (_, span) in enumerate(spans)
    ]
    assert api.post(f"/v1/evaluations/{run}/results", json={"results": results}).status_code == 200
    answer = api.get(
        "/v1/agreement", params={"user": thumbs, "evaluator": score, "by": "capability"}
    )
    [item] = answer.json()["items"]
    assert item["capability"] == "support-agent" and item["n"] == 4
    assert item["confusion"] == {"tp": 2, "fp": 1, "fn": 0, "tn": 1}


def test_a_run_and_agreement_read_each_value_by_one_rule(
    api: httpx.Client, live_server: LiveServer, unique: str
) -> None:
    """The same values, given by end users and as a run's scores, get the same verdicts: the run
    stores each score's verdict when it is written, agreement reads both sides when asked, and
    every span agrees (no fp, no fn), with as many passes as the run recorded."""
    seed, name = f"seed-{unique}", f"rated-{unique}"
    stars, ok, thumb = f"stars-{unique}", f"ok-{unique}", f"thumb-{unique}"
    configs = {
        stars: {"kind": "number", "min": 1, "max": 5, "pass_threshold": 4},
        ok: {"kind": "bool"},
        thumb: {"kind": "thumb"},
    }
    for config_name, config in configs.items():
        assert api.put(f"/v1/feedback-configs/{config_name}", json=config).status_code in (200, 201)
    # Around each rule's edge: stars below, at and above 4; bools; thumbs.
    values: dict[str, list[Any]] = {
        stars: [3, 3.99, 4, 5],
        ok: [True, False, True, False],
        thumb: ["up", "down", "down", "up"],
    }
    expected_passes = {stars: 2, ok: 2, thumb: 2}  # by hand, from the documented table
    spans = [store_span(live_server) for _ in range(4)]
    send(api, [
        event(seed, span, "up", "thumb", user="u1") | {"trace_id": trace}
        for trace, span in spans
    ])  # fmt: skip
    send(api, [
        event(score, span, values[score][i], configs[score]["kind"], user="u1")
        | {"trace_id": trace}
        for score in values
        for i, (trace, span) in enumerate(spans)
    ])  # fmt: skip
    run, examples = evaluate_feedback(api, name, seed)
    by_span = {row["span_id"]: row["example_id"] for row in examples}
    results = [
        {"example_id": by_span[span], "output": "x",
         "scores": {score: values[score][i] for score in values}}
        for i, (_, span) in enumerate(spans)
    ]  # fmt: skip
    stored = api.post(f"/v1/evaluations/{run}/results", json={"results": results})
    assert stored.status_code == 200, stored.text
    rows = api.get(f"/v1/evaluations/{run}/results").json()["items"]
    for score in values:
        run_passes = sum(row["scores"][score]["passed"] for row in rows)
        assert run_passes == expected_passes[score], rows
        answer = api.get("/v1/agreement", params={"user": score, "evaluator": score})
        [item] = answer.json()["items"]
        assert item["n"] == 4, item
        confusion = item["confusion"]
        assert (confusion["fp"], confusion["fn"]) == (0, 0), (score, confusion)
        assert confusion["tp"] == run_passes, (score, confusion)
