"""The console's server (demo data) and Chromium, shared with tests/console; two evaluation
runs of one dataset, made through the API."""

from dataclasses import dataclass
from typing import Any

import httpx

from tests.console.conftest import browser, console_server

__all__ = ["Runs", "browser", "console_server", "two_runs"]


@dataclass(frozen=True)
class Runs:
    dataset: str
    baseline: str
    fixed: str


def _post(api: httpx.Client, path: str, body: dict[str, Any], status: int) -> Any:
    answer = api.post(path, json=body)
    assert answer.status_code == status, answer.text
    return answer.json()


def two_runs(api: httpx.Client, unique: str) -> Runs:
    """Dataset `ds-<unique>` of four examples and two finished runs of it:

    | example | baseline        | fixed         | change                 |
    |---------|-----------------|---------------|------------------------|
    | e1      | acc 0.9 pass    | acc 0.3 fail  | regressed              |
    | e2      | acc 0.2 fail    | acc 0.9 pass  | improved (a guardrail) |
    | e3      | acc 0.8 pass    | acc 0.8 pass  | unchanged              |
    | e4      | error           | acc 0.7 pass  | new                    |
    """
    name = f"ds-{unique}"
    _post(api, "/v1/datasets", {"name": name}, 201)
    examples = [{"id": f"e{i}", "input": f"question {i}", "expected": i} for i in range(1, 5)]
    _post(api, f"/v1/datasets/{name}/examples", {"examples": examples}, 200)
    baseline = _post(api, "/v1/evaluations", {"dataset": name, "name": "baseline"}, 201)["id"]
    _post(api, f"/v1/evaluations/{baseline}/results", {"results": [
        {"example_id": "e1", "output": "one", "scores": {"acc": 0.9}},
        {"example_id": "e2", "output": "two?", "scores": {"acc": {"value": 0.2,
                                                                  "comment": "wrong year"}}},
        {"example_id": "e3", "output": "three", "scores": {"acc": 0.8}},
        {"example_id": "e4", "output": None, "error": "task failed: <timeout>"},
    ]}, 200)  # fmt: skip
    fixed = _post(api, "/v1/evaluations", {"dataset": name, "name": "fixed"}, 201)["id"]
    _post(api, f"/v1/evaluations/{fixed}/results", {"results": [
        {"example_id": "e1", "output": "uno", "scores": {"acc": 0.3}},
        {"example_id": "e2", "output": "two", "scores": {"acc": 0.9}},
        {"example_id": "e3", "output": "three", "scores": {"acc": 0.8}},
        {"example_id": "e4", "output": "four", "scores": {"acc": 0.7}},
    ]}, 200)  # fmt: skip
    return Runs(name, baseline, fixed)
