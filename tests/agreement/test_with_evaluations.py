"""An evaluation run's scores are evaluator feedback, so agreement compares a run with what end
users said — on both stores, through the API from end to end."""

import httpx

from tests.agreement.events import event, send
from tests.conftest import LiveServer
from tests.loop.spans import store_span


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
    assert api.post("/v1/datasets", json={"name": name}).status_code == 201
    added = api.post(f"/v1/datasets/{name}/examples",
                     json={"from_feedback": {"query": f'name = "{thumbs}"'}})  # fmt: skip
    assert added.status_code == 200, added.text
    run = api.post("/v1/evaluations", json={"dataset": name}).json()["id"]
    examples = api.get(f"/v1/evaluations/{run}/results").json()["items"]
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
