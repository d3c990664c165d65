"""`bench/query.py` runs end to end on a small load and reports every figure."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "query.py"


def test_query_bench_reports_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--events", "3000", "--repeat", "2", "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["events"] == 3000 and len(figures["queries"]) == 5
    assert all(q["p50_ms"] > 0 for q in figures["queries"].values())
    # The same queries through `plaudit serve` (no stream: 3,000 events are fewer than 10,000).
    assert set(figures["http"]) == set(figures["queries"])
    for timing in figures["http"].values():
        assert 0 < timing["p50_ms"] <= timing["p95_ms"] and timing["cold_ms"] > 0
