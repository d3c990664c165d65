"""`plaudit.evaluate` against a real server on both stores: an LLM judge on a fake
OpenAI-compatible endpoint (JSON, fenced JSON, bare numbers, unreadable answers, 429 then
success, a 5xx storm), Python evaluators, traced tasks, errors as rows, and resuming."""

import threading
from collections import Counter
from typing import Any

import httpx
import pytest

import plaudit
from tests.conftest import LiveServer
from tests.evals.conftest import FakeJudge
from tests.sdk.conftest import wait_for


def make_dataset(api: httpx.Client, name: str, examples: list[dict[str, Any]]) -> None:
    assert api.post("/v1/datasets", json={"name": name}).status_code == 201
    added = api.post(f"/v1/datasets/{name}/examples", json={"examples": examples})
    assert added.status_code == 200, added.text


def rows(api: httpx.Client, run_id: str) -> dict[str, dict[str, Any]]:
    items = api.get(f"/v1/evaluations/{run_id}/results", params={"limit": 1000}).json()["items"]
    return {row["example_id"]: row for row in items}


def test_every_judge_answer_ends_scored_or_as_the_rows_error(
    api: httpx.Client, live_server: LiveServer, judge: FakeJudge, unique: str
) -> None:
    name = f"judge-{unique}"
    keys = ["json", "fenced", "bare", "junk", "flaky", "storm"]
    make_dataset(
        api,
        name,
        [{"id": k, "input": f"<{k}>", "output": "It shipped.", "expected": "x"} for k in keys],
    )
    scorer = plaudit.evals.llm_judge(
        url=judge.url,
        model="fake-judge",
        prompt="Question {{input}}; answer {{output}}; expected {{expected}}. Score 0-1.",
        api_key="sk-fake",
        backoff=0.001,
        max_retries=3,
    )
    result = plaudit.evaluate(
        dataset=name,
        evaluators=[scorer],
        max_concurrency=3,
        url=live_server.url,
        token=live_server.admin_token,
    )
    assert result.counts == {"examples": 6, "done": 4, "errors": 2}
    assert result.status == "finished"
    assert set(result.errors) == {"junk", "storm"}
    assert "unreadable" in result.errors["junk"]
    assert "kept failing" in result.errors["storm"] and "503" in result.errors["storm"]
    stored = rows(api, result.id)
    scores = {k: r["scores"].get("llm-judge") for k, r in stored.items()}
    assert scores["json"] == {"value": 0.9, "passed": True, "comment": "answers the question"}
    assert scores["fenced"] == {"value": 1, "passed": True, "comment": "exact"}
    assert scores["bare"] == {"value": 0.25, "passed": False, "comment": None}
    assert scores["flaky"] is not None and scores["flaky"]["value"] == 0.8
    assert scores["junk"] is None and scores["storm"] is None
    assert stored["storm"]["status"] == "error" and stored["junk"]["status"] == "error"
    assert judge.calls["flaky"] == 2  # a 429, then the answer
    assert judge.calls["storm"] == 4  # the first try and three retries, then the row's error
    assert result.scores["llm-judge"] == {"mean": pytest.approx(0.7375), "pass_rate": 0.75}


def exact(input: Any, output: Any, expected: Any, metadata: Any) -> bool:
    return bool(output == expected)


def shape(input: Any, output: Any, expected: Any, metadata: Any) -> dict[str, Any]:
    if input == "odd":
        raise ValueError("cannot judge odd rows")
    return {"length": len(output), "politeness": plaudit.Score(0.5, comment="neutral")}


def test_tasks_are_traced_and_scores_are_evaluator_feedback_on_their_spans(
    api: httpx.Client, live_server: LiveServer, unique: str
) -> None:
    name = f"task-{unique}"
    make_dataset(
        api,
        name,
        [
            {"id": "a", "input": "hello", "expected": "HELLO", "metadata": {"capability": "shout"}},
            {"id": "b", "input": "bye", "expected": "nope"},
            {"id": "c", "input": "boom", "expected": "BOOM"},
            {"id": "d", "input": "odd", "expected": "ODD"},
        ],
    )

    def task(text: str) -> str:
        if text == "boom":
            raise RuntimeError("the model is down")
        return text.upper()

    result = plaudit.evaluate(
        dataset=name,
        task=task,
        evaluators=[exact, shape],
        name="shouting",
        url=live_server.url,
        token=live_server.admin_token,
    )
    assert result.counts == {"examples": 4, "done": 2, "errors": 2}
    assert result.errors["c"] == "task: RuntimeError: the model is down"
    assert result.errors["d"] == "shape: ValueError: cannot judge odd rows"
    assert result.summary["scores"]["exact"] == {"mean": 2 / 3, "pass_rate": 2 / 3}
    stored = rows(api, result.id)
    assert stored["a"]["output"] == "HELLO"
    assert stored["a"]["scores"]["politeness"]["comment"] == "neutral"
    assert stored["d"]["scores"]["exact"]["value"] is True  # the other evaluator still scored
    for row in stored.values():  # every row has the span of its task call, failed ones too
        assert len(row["trace_id"]) == 32 and len(row["span_id"]) == 16
    trace_id, span_id = stored["a"]["trace_id"], stored["a"]["span_id"]

    def tree() -> dict[str, Any] | None:
        answer = api.get(f"/v1/traces/{trace_id}")
        return answer.json() if answer.status_code == 200 else None

    root = wait_for(tree)["spans"][0]
    assert root["span_id"] == span_id and root["attributes"]["plaudit.evaluation"] == result.id
    assert root["attributes"]["plaudit.capability"] == "shout"
    feedback = api.get("/v1/feedback", params={"span_id": span_id}).json()["items"]
    assert {f["name"] for f in feedback} == {"exact", "length", "politeness"}
    assert all(f["source"] == "evaluator" for f in feedback)
    assert all(f["metadata"] == {"evaluation": result.id, "example_id": "a"} for f in feedback)
    listed = plaudit.evaluations.list(dataset=name)
    assert [r["name"] for r in listed] == ["shouting"]


def test_resume_runs_only_what_is_left(
    api: httpx.Client, live_server: LiveServer, unique: str
) -> None:
    name = f"resume-{unique}"
    make_dataset(api, name, [{"id": f"e{i:02}", "input": i, "output": i} for i in range(20)])
    runs = plaudit.Evaluations(live_server.url, live_server.admin_token)
    run = runs.start(name)
    runs.store(run["id"], [{"example_id": f"e{i:02}", "scores": {"seen": 1}} for i in range(7)])
    calls: Counter[str] = Counter()
    lock = threading.Lock()

    def seen(input: Any, output: Any, expected: Any, metadata: Any) -> int:
        with lock:
            calls[f"e{input:02}"] += 1
        return 1

    progress: list[tuple[int, int]] = []
    result = plaudit.evaluate(
        dataset=name,
        evaluators=[seen],
        resume=run["id"],
        progress=lambda done, total: progress.append((done, total)),
        url=live_server.url,
        token=live_server.admin_token,
    )
    assert result.id == run["id"] and result.counts["done"] == 20
    assert sorted(calls) == [f"e{i:02}" for i in range(7, 20)]
    assert set(calls.values()) == {1}
    assert progress[-1] == (13, 13)


def test_a_score_the_server_refuses_becomes_its_rows_error(
    api: httpx.Client, live_server: LiveServer, unique: str
) -> None:
    name, score = f"refused-{unique}", f"bounded-{unique}"
    put = api.put(f"/v1/feedback-configs/{score}", json={"name": score, "kind": "number", "max": 1})
    assert put.status_code in (200, 201), put.text
    # e1 is placed on a span (its source), e2 on none: the config holds for both.
    source = {"trace_id": "ab" * 16, "span_id": "cd" * 8}
    make_dataset(
        api,
        name,
        [{"id": "e0", "input": 0}, {"id": "e1", "input": 1, "source": source},
         {"id": "e2", "input": 2}],
    )  # fmt: skip

    def bounded(input: Any, output: Any, expected: Any, metadata: Any) -> dict[str, Any]:
        return {score: 5 if input > 0 else 0.5, "plain": 1}

    result = plaudit.evaluate(
        dataset=name, evaluators=[bounded], url=live_server.url, token=live_server.admin_token
    )
    assert result.run_id == result.id
    assert result.counts == {"examples": 3, "done": 1, "errors": 2}
    for refused in ("e1", "e2"):
        error = result.errors[refused]
        assert "refused by the server" in error and "maximum" in error
        row = rows(api, result.id)[refused]
        assert row["status"] == "error" and set(row["scores"]) == {"plain"}


def test_async_tasks_and_evaluators_are_awaited(
    api: httpx.Client, live_server: LiveServer, unique: str
) -> None:
    name = f"async-{unique}"
    make_dataset(api, name, [{"id": "a", "input": "hi", "expected": "HI"}])

    async def shout(text: str) -> str:
        return text.upper()

    async def same(input: Any, output: Any, expected: Any, metadata: Any) -> bool:
        return bool(output == expected)

    result = plaudit.evaluate(
        dataset=name, task=shout, evaluators=[same],
        url=live_server.url, token=live_server.admin_token,
    )  # fmt: skip
    assert result.scores == {"same": {"mean": 1.0, "pass_rate": 1.0}}
    assert rows(api, result.id)["a"]["output"] == "HI"
