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

from sqlalchemy import text

from plaudit.store.database import create_database_engine
from plaudit.store.migrate import upgrade

BENCH = Path(__file__).resolve().parent.parent / "bench" / "ingest.py"

FIGURES = (
    "ready_s", "rss_idle_mb", "otlp_spans_per_s", "otlp_unqueryable", "otlp_grpc_spans_per_s",
    "paced_p99_ms",
    "paced_p50_ms", "single_rps", "single_p50_ms", "single_p99_ms", "batch_events_per_s",
    "rss_load_mb", "events_lost", "events_duplicated", "spans_lost", "requests_failed",
    "sequential_p50_ms", "bytes_per_event", "bytes_per_span", "alone_batch_events_per_s",
    "alone_sequential_p50_ms",
)  # fmt: skip


def run_quick(*options: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json", *options],
        capture_output=True,
        text=True,
        timeout=180,
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

    throughputs = ("otlp_spans_per_s", "otlp_grpc_spans_per_s", "single_rps", "batch_events_per_s")
    for throughput in throughputs:
        assert metrics[throughput]["value"] > 0, throughput
    for integrity in ("events_lost", "events_duplicated", "spans_lost", "otlp_unqueryable"):
        assert metrics[integrity]["value"] == 0, (integrity, report["details"]["verify"])

    assert report["details"]["otlp_grpc"]["unqueryable"] == 0  # gRPC acks are durable too
    verdict = report["details"]["verify"]
    assert verdict["events_acked"] > 0 and verdict["spans_acked"] > 0
    # Events in flight when a phase stopped may be stored without having been answered; never
    # the other way round.
    assert verdict["events_stored"] >= verdict["events_acked"]
    assert report["database"] == "sqlite"

    storage = report["details"]["storage"]
    for side in ("event", "span"):
        shares = [row["share"] for row in storage.values() if row["of"] == side]
        assert math.isclose(sum(shares), 1.0, abs_tol=0.01), (side, shares)
    assert storage["feedback"]["bytes"] > 0 and storage["spans"]["bytes"] > 0


def test_two_worker_processes_on_postgres_lose_nothing_when_killed() -> None:
    """`--workers 2`: kill -9 reaches every worker, and what either acknowledged is stored."""
    report = run_quick("--seconds", "1", "--postgres", "--workers", "2")
    metrics = report["metrics"]
    for integrity in ("events_lost", "events_duplicated", "spans_lost", "otlp_unqueryable"):
        assert metrics[integrity]["value"] == 0, (integrity, report["details"]["verify"])
    assert report["database"] == "postgresql"
    assert report["details"]["verify"]["events_acked"] > 0


def test_console_benchmark_times_every_page_at_a_small_size() -> None:
    """`bench/console.py` with small sizes: it loads, serves, signs in and times each page, cold
    once after each fresh start of the server."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.console", "--events", "2000", "--traces", "400",
         "--repeat", "2", "--starts", "2", "--json"],
        capture_output=True, text=True, timeout=240, check=False,
        cwd=BENCH.parent.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout)
    assert report["events"] == 2000 and report["traces"] == 400
    pages = report["pages"]
    assert {"traces (7d, newest)", "conversation", "user", "overview (7d)"} <= set(pages)
    for name, figures in pages.items():
        for key in ("cold_ms", "cold_max_ms", "p50_ms", "p95_ms", "wall_p50_ms"):
            assert math.isfinite(figures[key]) and figures[key] > 0, (name, key, figures)
        cold = figures["cold_samples_ms"]
        assert len(cold) == 2 and all(math.isfinite(ms) and ms > 0 for ms in cold), (name, cold)
        assert figures["cold_max_ms"] == max(cold) and min(cold) <= figures["cold_ms"]


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


def test_floor_bench_times_every_feedback_index_and_the_fsync(tmp_path: Path) -> None:
    """`bench/floor.py` on a few rows: a figure for every index the migrations give `feedback`
    (each left out in turn), for the table with and without them, and for fsync."""
    done = subprocess.run(
        [sys.executable, str(BENCH.parent / "floor.py"), "--rows", "1000", "--json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout)
    engine = create_database_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    upgrade(engine)
    with engine.connect() as connection:
        indexes = set(connection.scalars(text(FEEDBACK_INDEXES)))
    engine.dispose()
    assert report["rows"] == 1000
    assert set(report["without each index"]) == indexes and "ix_feedback_query" in indexes
    costs = [*report["without each index"].values()]
    costs += [report[k] for k in report if k.startswith(("every", "no ", "in memory"))]
    assert len(costs) == len(indexes) + 5
    for cost in costs:
        assert cost["wall_us"] > 0 and cost["cpu_us"] > 0 and math.isfinite(cost["wall_us"])
    assert set(report["fsync_ms"]) == {"1", "4", "14"}
    assert all(spent > 0 for spent in report["fsync_ms"].values())


FEEDBACK_INDEXES = (
    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'feedback'"
    " AND sql IS NOT NULL"
)
