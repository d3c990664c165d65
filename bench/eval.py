"""Evaluations benchmark (issue 13): rows/s of `plaudit.evaluate` with a trivial evaluator, and
the server time of comparing two runs.

    python -m bench.eval               # 10,000 examples, concurrency 8, in a fresh SQLite file
    python -m bench.eval --examples 500 --json

`plaudit serve` is started as a user would, with a token made by `plaudit token create`; the
dataset is added over HTTP (not measured). Then, over loopback:
- rows/s: `plaudit.evaluate(dataset=…, evaluators=[trivial], max_concurrency=8)` scoring the
  stored outputs, from the run's creation to its summary (every result stored, each score also
  as evaluator feedback on the example's source span). Target ≥ 2,000 rows/s.
- rows/s with a task: the same with a trivial task, so each row is also a traced span exported to
  the server (shown for reference).
- compare: `GET /v1/evaluations/{run}/compare?baseline={other}` of two runs of every example,
  median of 5 (wall time on loopback, and the server's CPU time). Target ≤ 300 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.console import admin_token, serve
from bench.datasets import cpu_seconds
from bench.ingest import free_port

DATASET = "bench-eval"


def _post(client: httpx.Client, path: str, body: Any) -> Any:
    answer = client.post(path, json=body)
    if answer.status_code >= 300:
        raise SystemExit(f"{path}: {answer.status_code} {answer.text[:1000]}")
    return answer.json()


def make_dataset(client: httpx.Client, examples: int) -> None:
    """A dataset of `examples` rows, each from a span of its own (as `from_feedback` makes)."""
    _post(client, "/v1/datasets", {"name": DATASET})
    for first in range(0, examples, 1000):
        rows = [
            {
                "id": f"ex-{n:06}",
                "input": f"Where is my order {n}?",
                "output": f"It shipped ({n}).",
                "expected": f"It shipped ({n}).",
                "source": {"trace_id": f"{n + 1:032x}", "span_id": f"{n + 1:016x}"},
            }
            for n in range(first, min(first + 1000, examples))
        ]
        _post(client, f"/v1/datasets/{DATASET}/examples", {"examples": rows})


def number_of(example_input: str) -> int:
    return int(example_input.rsplit(" ", 1)[1].rstrip("?"))


def first_verdict(input: Any, output: Any, expected: Any, metadata: Any) -> bool:
    """A trivial evaluator: a third of the rows fail."""
    return number_of(input) % 3 != 0


def second_verdict(input: Any, output: Any, expected: Any, metadata: Any) -> bool:
    """The same score in a later run: a fifth of the rows fail, so rows improve and regress."""
    return number_of(input) % 5 != 0


first_verdict.name = second_verdict.name = "verdict"  # type: ignore[attr-defined]


def echo(value: Any) -> Any:
    """A trivial task."""
    return value


def timed_run(
    url: str, token: str, evaluator: Any, task: Any, concurrency: int
) -> tuple[float, str]:
    """Seconds of one `plaudit.evaluate` over the dataset, and the run's id."""
    import plaudit

    started = time.perf_counter()
    result = plaudit.evaluate(
        dataset=DATASET, task=task, evaluators=[evaluator], max_concurrency=concurrency,
        url=url, token=token,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if result.counts["done"] != result.counts["examples"]:
        raise SystemExit(f"the run did not score every row: {result.counts} {result.errors}")
    return seconds, result.id


def compare_times(
    client: httpx.Client, pid: int, run: str, baseline: str, repeat: int
) -> tuple[float, float, dict[str, Any]]:
    """Median wall and server CPU milliseconds of the comparison; its summary."""
    walls, cpus = [], []
    summary: dict[str, Any] = {}
    for _ in range(repeat):
        cpu, started = cpu_seconds(pid), time.perf_counter()
        answer = client.get(f"/v1/evaluations/{run}/compare", params={"baseline": baseline})
        walls.append((time.perf_counter() - started) * 1000)
        cpus.append((cpu_seconds(pid) - cpu) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"compare: {answer.status_code} {answer.text[:1000]}")
        summary = answer.json()["summary"]
    return statistics.median(walls), statistics.median(cpus), summary


def run(examples: int, concurrency: int, repeat: int) -> dict[str, Any]:
    """Start `plaudit serve`, load, measure; the figures."""
    work = Path(tempfile.mkdtemp(prefix="plaudit-bench-eval-"))
    database_url = f"sqlite:///{work / 'plaudit.db'}"
    token, port = admin_token(database_url), free_port()
    process, how = serve(database_url, port, work / "server.log")
    url = f"http://127.0.0.1:{port}"
    try:
        headers = {"authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            print(f"adding {examples:,} examples…", file=sys.stderr)
            make_dataset(client, examples)
            print("evaluating…", file=sys.stderr)
            first_s, first = timed_run(url, token, first_verdict, None, concurrency)
            second_s, second = timed_run(url, token, second_verdict, None, concurrency)
            task_s, _ = timed_run(url, token, second_verdict, echo, concurrency)
            wall_ms, cpu_ms, summary = compare_times(client, process.pid, second, first, repeat)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return {
        "server": how, "database": "sqlite", "examples": examples, "concurrency": concurrency,
        "rows_per_s": round(examples / min(first_s, second_s), 1),
        "rows_per_s_with_task": round(examples / task_s, 1),
        "compare_ms": round(wall_ms, 1), "compare_server_cpu_ms": round(cpu_ms, 1),
        "compare_summary": summary, "load_average": os.getloadavg()[0],
    }  # fmt: skip


def show(report: dict[str, Any]) -> None:
    """The figures next to their targets."""
    n, c = report["examples"], report["concurrency"]
    print(f"evaluate {n:,} examples, trivial evaluator, concurrency {c}: "
          f"{report['rows_per_s']:,.0f} rows/s (target ≥ 2,000)")  # fmt: skip
    print(f"  with a trivial traced task: {report['rows_per_s_with_task']:,.0f} rows/s")
    print(f"compare two {n:,}-row runs: {report['compare_ms']:.0f} ms, server CPU "
          f"{report['compare_server_cpu_ms']:.0f} ms (target ≤ 300 ms)")  # fmt: skip
    print(f"load average during the run: {report['load_average']:.1f} on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5, help="comparisons to take the median of")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    report = run(args.examples, args.concurrency, args.repeat)
    if args.json:
        print(json.dumps(report))
    else:
        show(report)


if __name__ == "__main__":
    main()
