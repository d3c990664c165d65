"""`bench/proxy.py --quick` runs end to end and reports every figure (speed is not asserted here:
a shared test machine would make that flaky; docs/performance-proxy.md has measured figures)."""

import json
import math
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "proxy.py"


def test_the_quick_benchmark_reports_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json", "--concurrency", "8"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout)
    for phase in ("whole_direct", "whole_proxy", "stream_direct", "stream_proxy"):
        assert report[phase]["failed"] == 0, phase
        assert report[phase]["calls_per_s"] > 0, phase
    for figure in ("p50_ms", "p99_ms", "chunk_p50_ms", "chunk_p99_ms"):
        assert math.isfinite(report["added"][figure]), figure
