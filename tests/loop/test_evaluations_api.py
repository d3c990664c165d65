"""`/v1/evaluations` against a real server on both stores: runs, results stored as evaluator
feedback, counts and scores, pass thresholds, comparisons, guardrails and the problems."""

import json
from typing import Any

import httpx

from plaudit.core import base64url
from tests.conftest import LiveServer
from tests.loop.spans import store_span


def dataset(api: httpx.Client, name: str, examples: list[dict[str, Any]]) -> None:
    assert api.post("/v1/datasets", json={"name": name}).status_code == 201
    if examples:
        added = api.post(f"/v1/datasets/{name}/examples", json={"examples": examples})
        assert added.status_code == 200, added.text


def start(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/v1/evaluations", json=body)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def post(api: httpx.Client, run: str, results: list[dict[str, Any]]) -> httpx.Response:
    return api.post(f"/v1/evaluations/{run}/results", json={"results": results})


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    found: dict[str, Any] = response.json()
    return found


def test_a_run_counts_its_examples_and_summarises_its_scores(
    api: httpx.Client, unique: str
) -> None:
    name = f"ev-{unique}"
    dataset(api, name, [{"id": f"e{i}", "input": i, "expected": i} for i in range(4)])
    run = start(api, {"dataset": name, "name": "first"})
    assert run["dataset"] == name and run["dataset_version"] == 1 and run["name"] == "first"
    assert run["status"] == "running" and run["scores"] == {}
    assert run["counts"] == {"examples": 4, "done": 0, "errors": 0}
    stored = post(
        api,
        run["id"],
        [
            {"example_id": "e0", "output": 0, "scores": {"exact": True, "sim": 1.0}},
            {"example_id": "e1", "output": 2, "scores": {"exact": False, "sim": 0.25}},
            {"example_id": "e2", "output": None, "error": "task failed: boom"},
        ],
    )
    assert stored.status_code == 200, stored.text
    assert [r["status"] for r in stored.json()["results"]] == ["created"] * 3
    got = api.get(f"/v1/evaluations/{run['id']}").json()
    assert got["counts"] == {"examples": 4, "done": 2, "errors": 1}
    assert got["status"] == "running"
    assert got["scores"] == {
        "exact": {"mean": 0.5, "pass_rate": 0.5},
        "sim": {"mean": 0.625, "pass_rate": 0.5},
    }
    # Posting an example again replaces its result: nothing counted twice.
    again = post(api, run["id"], [{"example_id": "e1", "output": 1, "scores": {"exact": True}}])
    assert again.json()["results"] == [{"example_id": "e1", "status": "revised"}]
    post(api, run["id"], [{"example_id": "e3", "output": 3, "scores": {"exact": True}}])
    done = api.get(f"/v1/evaluations/{run['id']}").json()
    assert done["counts"] == {"examples": 4, "done": 3, "errors": 1}
    assert done["status"] == "finished" and done["finished_at"] is not None
    assert done["scores"]["exact"] == {"mean": 1.0, "pass_rate": 1.0}
    rows = api.get(f"/v1/evaluations/{run['id']}/results").json()
    assert [r["example_id"] for r in rows["items"]] == ["e0", "e1", "e2", "e3"]
    assert rows["items"][1]["scores"] == {"exact": {"value": True, "passed": True, "comment": None}}
    failed = rows["items"][2]
    assert failed["status"] == "error" and failed["error"] == "task failed: boom"
    errors = api.get(f"/v1/evaluations/{run['id']}/results", params={"status": "error"}).json()
    assert [r["example_id"] for r in errors["items"]] == ["e2"]
    listed = api.get("/v1/evaluations", params={"dataset": name}).json()
    assert [r["id"] for r in listed["items"]] == [run["id"]] and listed["next_cursor"] is None
    assert listed["items"][0]["counts"]["done"] == 3


def test_scores_are_evaluator_feedback_on_the_span(
    api: httpx.Client, live_server: LiveServer, unique: str
) -> None:
    name = f"fb-{unique}"
    source_trace, source_span = store_span(live_server)
    source = {"trace_id": source_trace, "span_id": source_span, "feedback_ids": []}
    dataset(api, name, [{"id": "a", "input": "q"}, {"id": "b", "input": "q2", "source": source}])
    task_trace, task_span = store_span(live_server)
    run = start(api, {"dataset": name})
    post(
        api,
        run["id"],
        [
            {
                "example_id": "a",
                "output": "x",
                "trace_id": task_trace,
                "span_id": task_span,
                "scores": {"judge": {"value": 0.9, "comment": "good"}},
            },
            {"example_id": "b", "output": "y", "scores": {"judge": 0.1}},
        ],
    )
    on_task = api.get("/v1/feedback", params={"span_id": task_span}).json()["items"]
    assert len(on_task) == 1
    event = on_task[0]
    assert event["source"] == "evaluator" and event["name"] == "judge"
    assert event["value"] == 0.9 and event["comment"] == "good"
    assert event["metadata"] == {"evaluation": run["id"], "example_id": "a"}
    # Without a span of its own, a score lands on the span its example came from.
    on_source = api.get("/v1/feedback", params={"span_id": source_span}).json()["items"]
    assert [(e["name"], e["value"], e["source"]) for e in on_source] == [
        ("judge", 0.1, "evaluator")
    ]
    # Posting again revises the same event.
    post(api, run["id"], [{"example_id": "b", "output": "y", "scores": {"judge": 0.7}}])
    on_source = api.get("/v1/feedback", params={"span_id": source_span}).json()["items"]
    assert [(e["value"], e["revision"]) for e in on_source] == [(0.7, 2)]


def test_the_pass_threshold_comes_from_the_score_config(api: httpx.Client, unique: str) -> None:
    name = f"th-{unique}"
    score = f"strict-{unique}"
    thumb = f"thumb-{unique}"
    put = api.put(
        f"/v1/feedback-configs/{score}",
        json={"name": score, "kind": "number", "pass_threshold": 0.8},
    )
    assert put.status_code in (200, 201), put.text
    api.put(f"/v1/feedback-configs/{thumb}", json={"name": thumb, "kind": "thumb"})
    dataset(api, name, [{"id": "a"}, {"id": "b"}])
    run = start(api, {"dataset": name})
    post(
        api,
        run["id"],
        [
            {"example_id": "a", "scores": {score: 0.7, "plain": 0.5, thumb: 1, "judged": "up"}},
            {"example_id": "b", "scores": {score: 0.8, "plain": 0.49, thumb: -1, "judged": "down"}},
        ],
    )
    scores = api.get(f"/v1/evaluations/{run['id']}").json()["scores"]
    assert scores[score]["pass_rate"] == 0.5 and scores["plain"]["pass_rate"] == 0.5
    assert scores["judged"] == {"mean": 0.0, "pass_rate": 0.5}  # a thumb passes when up
    assert scores[thumb] == {"mean": 0.0, "pass_rate": 0.5}
    rows = api.get(f"/v1/evaluations/{run['id']}/results").json()["items"]
    assert [r["scores"][score]["passed"] for r in rows] == [False, True]


def test_compare_marks_changes_and_guardrails(api: httpx.Client, unique: str) -> None:
    name = f"cmp-{unique}"
    dataset(api, name, [{"id": i} for i in ("a", "b", "c", "d")])
    first = start(api, {"dataset": name})
    post(
        api,
        first["id"],
        [
            {"example_id": "a", "scores": {"ok": True}},
            {"example_id": "b", "scores": {"ok": False}},
            {"example_id": "c", "scores": {"ok": True}},
            {"example_id": "d", "scores": {"ok": False}},
        ],
    )
    second = start(api, {"dataset": name})
    post(
        api,
        second["id"],
        [
            {"example_id": "a", "scores": {"ok": False}},
            {"example_id": "b", "scores": {"ok": True, "new": 1}},
            {"example_id": "c", "scores": {"ok": True}},
            {"example_id": "d", "error": "timeout"},
        ],
    )
    compared = api.get(
        f"/v1/evaluations/{second['id']}/compare", params={"baseline": first["id"]}
    ).json()
    by_id = {item["example_id"]: item["scores"] for item in compared["items"]}
    assert by_id["a"] == {"ok": {"run": False, "baseline": True, "change": "regressed"}}
    assert by_id["b"]["ok"] == {"run": True, "baseline": False, "change": "improved"}
    assert by_id["b"]["new"] == {"run": 1, "baseline": None, "change": "new"}
    assert by_id["c"]["ok"]["change"] == "unchanged"
    assert by_id["d"]["ok"] == {"run": None, "baseline": False, "change": "unchanged"}
    assert compared["summary"] == {
        "new": {"improved": 0, "regressed": 0, "unchanged": 0},
        "ok": {"improved": 1, "regressed": 1, "unchanged": 2},
    }
    # A run scored by other evaluators is not compared on scores it does not have.
    other = start(api, {"dataset": name})
    post(api, other["id"], [{"example_id": i, "scores": {"judge": 1}} for i in "abcd"])
    unrelated = api.get(
        f"/v1/evaluations/{other['id']}/compare", params={"baseline": first["id"]}
    ).json()
    assert unrelated["summary"] == {"judge": {"improved": 0, "regressed": 0, "unchanged": 0}}
    # b and d failed `ok` in the first run: guardrails of the second, not of the first.
    assert compared["guardrails"] == {"ok": ["b", "d"]}
    latest = api.get(f"/v1/evaluations/{second['id']}/compare").json()
    assert latest["baseline"] == other["id"]  # the newest finished run but this one
    back = api.get(
        f"/v1/evaluations/{first['id']}/compare", params={"baseline": second["id"]}
    ).json()
    assert back["guardrails"] == {}
    # Only the guardrails: the examples that ever failed a score of this dataset.
    guarded = start(api, {"dataset": name, "only": "guardrails"})
    assert guarded["counts"]["examples"] == 3 and guarded["only"] == "guardrails"
    pending = api.get(f"/v1/evaluations/{guarded['id']}/results").json()["items"]
    assert [r["example_id"] for r in pending] == ["a", "b", "d"]


def test_only_filled_runs_the_annotated_rows(api: httpx.Client, unique: str) -> None:
    name = f"fill-{unique}"
    dataset(api, name, [{"id": "a"}, {"id": "b", "annotation_status": "filled"}])
    run = start(api, {"dataset": name, "only": "filled"})
    assert run["counts"]["examples"] == 1
    rows = api.get(f"/v1/evaluations/{run['id']}/results").json()["items"]
    assert [r["example_id"] for r in rows] == ["b"]


def test_an_empty_run_is_finished_and_pages_list_newest_first(
    api: httpx.Client, unique: str
) -> None:
    name = f"pg-{unique}"
    dataset(api, name, [])
    made = [start(api, {"dataset": name}) for _ in range(3)]
    assert made[0]["status"] == "finished" and made[0]["counts"]["examples"] == 0
    seen: list[str] = []
    cursor = None
    while True:
        params = {"dataset": name, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/evaluations", params=params).json()
        seen += [r["id"] for r in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == [r["id"] for r in reversed(made)]


def test_problems(api: httpx.Client, live_server: LiveServer, unique: str) -> None:
    name = f"pr-{unique}"
    dataset(api, name, [{"id": "a"}])
    assert (
        "dataset" in problem(api.post("/v1/evaluations", json={"dataset": "nope"}), 404)["detail"]
    )
    problem(api.post("/v1/evaluations", json={"dataset": name, "dataset_version": 9}), 422)
    problem(api.post("/v1/evaluations", json={"dataset": name, "only": "some"}), 422)
    problem(api.post("/v1/evaluations", json={}), 422)
    json_type = {"content-type": "application/json"}
    problem(api.post("/v1/evaluations", content=b"{", headers=json_type), 400)
    run = start(api, {"dataset": name, "id": f"run-{unique}"})
    assert run["id"] == f"run-{unique}"
    problem(api.post("/v1/evaluations", json={"dataset": name, "id": f"run-{unique}"}), 409)
    problem(api.get("/v1/evaluations/missing"), 404)
    # a NUL (which PostgreSQL cannot compare with text) in a filter or a forged cursor
    nul_filter = problem(api.get("/v1/evaluations", params={"dataset": "a\x00b"}), 422)
    assert nul_filter["errors"][0]["pointer"] == "/dataset"
    forged = base64url.encode(json.dumps("a\x00b").encode())
    problem(api.get("/v1/evaluations", params={"cursor": forged}), 400)
    problem(post(api, "missing", [{"example_id": "a"}]), 404)
    unknown = problem(post(api, run["id"], [{"example_id": "zz", "scores": {}}]), 422)
    assert unknown["errors"][0]["pointer"] == "/results/0/example_id"
    huge = problem(post(api, run["id"], [{"example_id": "a", "scores": {"s": 10**400}}]), 422)
    assert huge["errors"][0]["pointer"] == "/results/0/scores/s"
    bad = problem(post(api, run["id"], [{"example_id": "a", "scores": {"s": "great"}}]), 422)
    assert bad["errors"][0]["pointer"] == "/results/0/scores/s"
    problem(post(api, run["id"], [{"example_id": "a", "scores": {"s": {"comment": "x"}}}]), 422)
    problem(post(api, run["id"], [{"example_id": "a", "trace_id": "xyz"}]), 422)
    zeros = problem(post(api, run["id"], [{"example_id": "a", "span_id": "0" * 16}]), 422)
    assert zeros["errors"][0]["pointer"] == "/results/0/span_id"
    assert api.get(f"/v1/evaluations/{run['id']}").json()["counts"]["done"] == 0
    problem(api.get(f"/v1/evaluations/{run['id']}/results", params={"status": "x"}), 422)
    problem(api.get(f"/v1/evaluations/{run['id']}/compare", params={"baseline": "nope"}), 404)
    problem(api.get(f"/v1/evaluations/{run['id']}/compare"), 404)  # no other finished run
    other = f"pr2-{unique}"
    dataset(api, other, [])
    elsewhere = start(api, {"dataset": other})
    mixed = api.get(f"/v1/evaluations/{run['id']}/compare", params={"baseline": elsewhere["id"]})
    assert problem(mixed, 422)["errors"][0]["pointer"] == "/baseline"
    with live_server.client(live_server.browser_token) as browser:
        problem(browser.get("/v1/evaluations"), 403)
        problem(browser.post("/v1/evaluations", json={"dataset": name}), 403)
