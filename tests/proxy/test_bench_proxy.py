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
        [sys.executable, str(BENCH), "--quick", "--json", "--concurrency", "8",
         "--model-ms", "100"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout)
    for name in ("whole", "model", "stream"):
        for where in ("direct", "proxy"):
            phase = report[f"{name}_{where}"]
            assert phase["failed"] == 0, (name, where)
            assert phase["calls_per_s"] > 0, (name, where)
            assert phase["server_cpu_us_per_call"] > 0, (name, where)
    # the model phase's upstream takes 50–150 ms per call, through the proxy too, so 8 callers
    # make at most 160 calls/s; its latencies count the time outside the upstream, never below 0
    for where in ("direct", "proxy"):
        model = report[f"model_{where}"]
        assert model["calls_per_s"] <= 8 / 0.050, where
        assert 0 <= model["p50_ms"] <= model["p99_ms"], where
    for figure in ("whole_p50_ms", "whole_p99_ms", "model_p50_ms", "model_p99_ms",
                   "stream_chunk_p50_ms", "stream_chunk_p99_ms"):  # fmt: skip
        assert math.isfinite(report["added"][figure]), figure
