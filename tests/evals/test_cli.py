"""`plaudit eval run` as a user runs it (a subprocess, against a real server on both stores):
regressions fail the build and name the example, `--only guardrails`, `--json`, and Ctrl-C in
the middle of a 1,000-row run followed by `--resume`: every example scored exactly once."""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from plaudit.cli import app
from tests.conftest import LiveServer
from tests.evals.conftest import FakeJudge
from tests.sdk.conftest import plaudit_command, wait_for

TASKS = """
import os
import threading
import time

_lock = threading.Lock()
_count = 0


def good(text):
    return text.upper()


def regressed(text):
    return "??" if text == "tricky" else text.upper()


def exact(input, output, expected, metadata):
    return output == expected


def echo(value):
    return value


def logged(input, output, expected, metadata):
    # Writes each row it scores to EVAL_LOG; with EVAL_HOLD, rows from the 300th on wait for
    # the EVAL_RELEASE file, so the test can interrupt the run in its middle.
    global _count
    with _lock:
        _count += 1
        n = _count
        with open(os.environ["EVAL_LOG"], "a") as log:
            log.write(f"{input}\\n")
    if os.environ.get("EVAL_HOLD") == "1" and n >= 300:
        while not os.path.exists(os.environ["EVAL_RELEASE"]):
            time.sleep(0.01)
    return 1
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "tasks.py").write_text(textwrap.dedent(TASKS))
    return tmp_path


def environment(server: LiveServer, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAUDIT_")}
    return {**env, "PLAUDIT_URL": server.url, "PLAUDIT_TOKEN": server.admin_token, **extra}


def plaudit_eval(
    server: LiveServer, workdir: Path, *arguments: str
) -> subprocess.CompletedProcess[str]:
    command = [*plaudit_command(), "eval", "run", *arguments]
    return subprocess.run(
        command, cwd=workdir, env=environment(server), capture_output=True, text=True, timeout=120
    )


def make_dataset(api: httpx.Client, name: str, examples: list[dict[str, Any]]) -> None:
    assert api.post("/v1/datasets", json={"name": name}).status_code == 201
    added = api.post(f"/v1/datasets/{name}/examples", json={"examples": examples})
    assert added.status_code == 200, added.text


def test_a_regression_fails_the_run_and_names_the_example(
    api: httpx.Client, live_server: LiveServer, workdir: Path, unique: str
) -> None:
    name = f"reg-{unique}"
    words = ["hello", "tricky", "world"]
    make_dataset(api, name, [{"id": w, "input": w, "expected": w.upper()} for w in words])
    common = ["--dataset", name, "--evaluator", "tasks:exact"]
    first = plaudit_eval(live_server, workdir, *common, "--task", "tasks:good")
    assert first.returncode == 0, first.stderr
    assert "exact" in first.stdout and "100.0%" in first.stdout

    worse = plaudit_eval(
        live_server, workdir, *common, "--task", "tasks:regressed", "--fail-on-regression"
    )
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "regressed: tricky (exact: True -> False)" in worse.stderr
    assert "hello" not in worse.stderr and "world" not in worse.stderr

    fixed = plaudit_eval(
        live_server, workdir, *common, "--task", "tasks:good", "--fail-on-regression", "--json"
    )
    assert fixed.returncode == 0, fixed.stderr
    report = json.loads(fixed.stdout)
    assert report["summary"]["exact"] == {"improved": 1, "regressed": 0, "unchanged": 2}
    assert report["regressed"] == [] and report["run"]["counts"]["done"] == 3

    # "tricky" failed once: it is this dataset's guardrail from now on.
    guarded = plaudit_eval(
        live_server, workdir, *common, "--task", "tasks:good", "--only", "guardrails", "--json"
    )
    assert guarded.returncode == 0, guarded.stderr
    assert json.loads(guarded.stdout)["run"]["counts"]["examples"] == 1


def test_usage_problems_exit_2(
    live_server: LiveServer, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workdir)
    monkeypatch.syspath_prepend(str(workdir))
    monkeypatch.delitem(sys.modules, "tasks", raising=False)
    runner = CliRunner()
    server = ["--url", live_server.url, "--token", live_server.admin_token]

    def invoke(*arguments: str) -> Result:
        return runner.invoke(app, ["eval", "run", *server, *arguments])

    no_evaluator = invoke("--dataset", "d")
    assert no_evaluator.exit_code == 2 and "--evaluator" in no_evaluator.output
    missing = invoke("--dataset", "d", "--evaluator", "tasks:nope")
    assert missing.exit_code == 2 and "nope" in missing.output
    half_judge = invoke("--dataset", "d", "--judge-url", "http://x")
    assert half_judge.exit_code == 2 and "--judge-model" in half_judge.output
    wrong_only = invoke("--dataset", "d", "--evaluator", "tasks:exact", "--only", "some")
    assert wrong_only.exit_code == 2 and "--only" in wrong_only.output
    unknown = invoke("--dataset", "nope", "--evaluator", "tasks:exact")
    assert unknown.exit_code == 1 and "no dataset" in unknown.output
    monkeypatch.delitem(sys.modules, "tasks", raising=False)


def test_interrupt_then_resume_scores_every_example_exactly_once(
    api: httpx.Client, live_server: LiveServer, workdir: Path, unique: str
) -> None:
    name = f"sigint-{unique}"
    make_dataset(api, name, [{"id": f"r{i:04}", "input": i} for i in range(1000)])
    log, release = workdir / "scored.log", workdir / "release"
    env = environment(live_server, EVAL_LOG=str(log), EVAL_RELEASE=str(release), EVAL_HOLD="1")
    arguments = ["--dataset", name, "--task", "tasks:echo", "--evaluator", "tasks:logged"]
    command = [*plaudit_command(), "eval", "run", *arguments]
    process = subprocess.Popen(
        command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: log.exists() and len(log.read_text().splitlines()) >= 300, timeout=60)
        process.send_signal(signal.SIGINT)
        release.touch()
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    found = re.search(r"--resume (\S+)", stderr)
    assert found is not None, stderr
    run_id = found.group(1)
    interrupted = api.get(f"/v1/evaluations/{run_id}").json()
    first_part = len(log.read_text().splitlines())
    assert 300 <= interrupted["counts"]["done"] == first_part < 1000
    assert interrupted["status"] == "running"

    env["EVAL_HOLD"] = "0"
    resumed = subprocess.run(
        [*command, "--resume", run_id, "--json"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["run"]["counts"] == {
        "examples": 1000, "done": 1000, "errors": 0,
    }  # fmt: skip
    scored = Counter(log.read_text().splitlines())
    assert len(scored) == 1000 and set(scored.values()) == {1}
    feedback: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"metadata.evaluation": run_id, "limit": 1000, "cursor": cursor}
        page = api.get("/v1/feedback", params={k: v for k, v in params.items() if v}).json()
        feedback += page["items"]
        if (cursor := page["next_cursor"]) is None:
            break
    examples = Counter(event["metadata"]["example_id"] for event in feedback)
    assert len(examples) == 1000 and set(examples.values()) == {1}
    assert all(event["revision"] == 1 for event in feedback)


def test_an_llm_judge_from_the_command_line(
    api: httpx.Client, live_server: LiveServer, judge: FakeJudge, tmp_path: Path, unique: str
) -> None:
    name = f"judge-cli-{unique}"
    make_dataset(api, name, [{"id": k, "input": f"<{k}>", "output": "It shipped."}
                             for k in ("json", "bare", "junk")])  # fmt: skip
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Rate {{output}} as an answer to {{input}}.")
    server = ["--url", live_server.url, "--token", live_server.admin_token]
    result = CliRunner().invoke(
        app,
        ["eval", "run", *server, "--dataset", name, "--judge-url", judge.url,
         "--judge-model", "fake", "--judge-prompt", str(prompt), "--judge-name", "quality",
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["run"]["counts"] == {"examples": 3, "done": 2, "errors": 1}
    assert report["run"]["scores"]["quality"] == {"mean": 0.575, "pass_rate": 0.5}
    assert "unreadable" in report["errors"]["junk"] and report["baseline"] is None
