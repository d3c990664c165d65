"""`bench/ingest.py --quick` runs end to end and loses nothing.

Speed targets are not asserted here: the benchmark shows them, and a shared test machine would
make such assertions flaky. What must hold on any machine is that the benchmark completes, reports
a number for every figure, and that every event and span the server acknowledged is in the
database exactly once after the server is killed.
"""

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent.parent / "bench" / "ingest.py"

FIGURES = (
    "ready_s", "rss_idle_mb", "otlp_spans_per_s", "otlp_unqueryable", "paced_p99_ms",
    "paced_p50_ms", "single_rps", "single_p50_ms", "single_p99_ms", "batch_events_per_s",
    "rss_load_mb", "events_lost", "events_duplicated", "spans_lost", "requests_failed",
)  # fmt: skip


def run_quick() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_quick_benchmark_reports_every_figure_and_loses_nothing() -> None:
    report = run_quick()
    metrics = report["metrics"]

    for name in FIGURES:
        value = metrics[name]["value"]
        assert isinstance(value, int | float) and math.isfinite(value), (name, value)
    assert metrics["footprint_mb"]["value"] is None  # only measured with --footprint

    for throughput in ("otlp_spans_per_s", "single_rps", "batch_events_per_s"):
        assert metrics[throughput]["value"] > 0, throughput
    for integrity in ("events_lost", "events_duplicated", "spans_lost", "otlp_unqueryable"):
        assert metrics[integrity]["value"] == 0, (integrity, report["details"]["verify"])

    verdict = report["details"]["verify"]
    assert verdict["events_acked"] > 0 and verdict["spans_acked"] > 0
    # Events in flight when a phase stopped may be stored without having been answered; never
    # the other way round.
    assert verdict["events_stored"] >= verdict["events_acked"]
    assert report["database"] == "sqlite"


def test_eval_bench_reports_rows_per_second_and_the_compare_time() -> None:
    """`bench/eval.py` on a small dataset: both runs score every row, and the comparison of
    the two runs sees the rows that changed (a third failed in the first, a fifth in the
    second)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.eval", "--examples", "300", "--repeat", "1", "--json"],
        capture_output=True, text=True, timeout=300, check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout)
    assert report["examples"] == 300 and report["concurrency"] == 8
    for figure in ("rows_per_s", "rows_per_s_with_task", "compare_ms"):
        assert report[figure] > 0 and math.isfinite(report[figure]), figure
    # Rows failing only the first run improved, rows failing only the second regressed.
    changes = report["compare_summary"]["verdict"]
    improved = sum(1 for n in range(300) if n % 3 == 0 and n % 5 != 0)
    regressed = sum(1 for n in range(300) if n % 5 == 0 and n % 3 != 0)
    assert changes == {
        "improved": improved, "regressed": regressed, "unchanged": 300 - improved - regressed,
    }  # fmt: skip
