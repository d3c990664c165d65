"""Console benchmark: overview, explorer, traces, conversation and user pages at scale.

    python bench/console.py                  # 1,000,000 events and 200,000 traces, fresh SQLite
    python bench/console.py --events 100000 --traces 20000   # smaller
    python bench/console.py --json           # machine-readable figures

Events are bench/query.py's (20 capabilities, 50,000 users, mixed kinds), with its clock moved to
now so that the console's "last 7 days" holds a realistic share of them. The first `--traces`
traces the events point at get three spans each (a root, a retrieval, a model call on the span
the events name), spread over the same 90 days, four traces to a conversation; the events on
them carry the conversation's id. Then
`plaudit serve` is started as a user would, signed in through /login with a token made by
`plaudit token create`, and each page is fetched once cold after each of `--starts` fresh starts
of the server (median and worst reported), then `--repeat` times warm. The figure is the server's
own time (the console's `Server-Timing` header: from the request reaching the view to
the rendered page), next to the wall time seen by the client. Target: ≤ 200 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, insert, text

from bench import query as query_bench
from bench.ingest import free_port, plaudit_executable
from plaudit.store.database import create_database_engine
from plaudit.store.migrate import upgrade
from plaudit.store.schema import spans

TARGET_MS = 200.0
PAGES = {
    "overview (7d)": "/",
    "overview (30d)": "/?range=30d",
    "explorer: a capability": "/feedback?capability=capability-03",
    "explorer: capability, name, value ≤ 2": (
        "/feedback?capability=capability-03&name=star-rating&value=%3C%3D2"
    ),
    "explorer: everything, newest": "/feedback",
    "explorer: comment contains": "/feedback?capability=capability-03&text=slow",
    "traces (7d, newest)": "/traces",
    "traces: search feedback, 30d": "/traces?q=feedback.response-quality+%3D+-1&since=30d",
    "traces: longest, 24h": "/traces?sort=duration&since=24h",
    "conversation": "/conversations/conv-000123",
    "user": "/users/user-00042",
}
SPANS_PER_TRACE = 3
TRACE_PAGES = ("traces (7d, newest)", "conversation")


def analyze(database_url: str) -> None:
    """Fresh planner statistics after the bulk load, as a long-running database would have."""
    engine = create_database_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    engine.dispose()


def conversation_of(trace: int) -> str:
    """Four traces to a conversation."""
    return f"conv-{trace // 4:06d}"


def _span_rows(rng: random.Random, trace: int) -> list[dict[str, Any]]:
    """A root, a retrieval and a model call (the span bench/query.py's events name)."""
    start = int((query_bench.NOW.timestamp() - rng.uniform(0, 90 * 86_400)) * 1e9)
    took = int(rng.lognormvariate(20.5, 0.6))  # ~0.8 s median
    capability = query_bench.CAPABILITIES[trace % len(query_bench.CAPABILITIES)]
    common = {
        "project": query_bench.PROJECT, "trace_id": f"{trace:032x}", "kind": "internal",
        "status_code": "ERROR" if rng.random() < 0.02 else "OK", "status_message": "",
        "events": [], "links": [], "scope": {"name": "bench"},
        "resource": {"service.name": "bench-app", "service.version": "1.0"},
        "capability": capability, "conversation_id": conversation_of(trace),
        "user_id": f"user-{trace % 50_000:05d}", "received_at": start // 1000, "response_id": None,
    }  # fmt: skip
    root = f"{0xA000000000000000 + trace:016x}"
    return [
        {**common, "span_id": root, "parent_span_id": None, "name": "POST /chat", "step": None,
         "start_time_ns": start, "end_time_ns": start + took,
         "attributes": {"http.route": "/chat", "plaudit.capability": capability}},
        {**common, "span_id": f"{0xB000000000000000 + trace:016x}", "parent_span_id": root,
         "name": "retrieve", "step": "retrieve", "start_time_ns": start + 1_000_000,
         "end_time_ns": start + took // 4, "attributes": {"db.system.name": "postgresql"}},
        {**common, "span_id": f"{trace + 1:016x}", "parent_span_id": root,
         "name": "chat gpt-4o", "step": "respond", "kind": "client",
         "start_time_ns": start + took // 4, "end_time_ns": start + took - 1_000_000,
         "attributes": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}},
    ]  # fmt: skip


def load_spans(engine: Engine, traces: int) -> None:
    """`traces` traces of three spans, in big transactions."""
    rng = random.Random(9)
    for first in range(0, traces, 20_000):
        rows = [r for t in range(first, min(traces, first + 20_000)) for r in _span_rows(rng, t)]
        with engine.begin() as connection:
            for chunk in range(0, len(rows), 10_000):
                connection.execute(insert(spans), rows[chunk : chunk + 10_000])


def load(database_url: str, events: int, traces: int = 0) -> float:
    """Fill the database with bench/query.py's events, dated up to now, and the spans of the
    first `traces` traces; seconds taken."""
    query_bench.NOW = datetime.now(UTC)
    engine = create_database_engine(database_url)
    upgrade(engine)
    started = time.perf_counter()
    event_of = query_bench._event

    def with_conversation(rng: random.Random, index: int, age_seconds: float) -> dict[str, Any]:
        row = event_of(rng, index, age_seconds)
        trace = index // 2
        row["conversation_id"] = conversation_of(trace) if trace < traces else None
        return row

    query_bench._event = with_conversation
    try:
        query_bench.load(engine, events)
    finally:
        query_bench._event = event_of
    load_spans(engine, traces)
    engine.dispose()
    return time.perf_counter() - started


def admin_token(database_url: str) -> str:
    """A token made the way an operator makes one."""
    command = [str(plaudit_executable()), "token", "create", "--project", query_bench.PROJECT,
               "--create-project", "--scope", "admin", "--database-url", database_url,
               "--json"]  # fmt: skip
    return str(json.loads(subprocess.check_output(command))["token"])


def serve(database_url: str, port: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`plaudit serve`, as a user starts it; (process, how it was started)."""
    url = f"http://127.0.0.1:{port}"
    command = [str(plaudit_executable()), "serve", "--database-url", database_url,
               "--port", str(port), "--grpc-port", "0", "--log-level", "warning"]  # fmt: skip
    return _start(command, url, log), "plaudit serve"


def _start(command: list[str], url: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit("the server did not become ready")


def sign_in(client: httpx.Client, token: str) -> None:
    """Through the form, as a browser does."""
    form = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    answer = client.post("/login", data={"csrf": csrf.group(1), "secret": token, "next": "/"})
    if answer.status_code != 303:
        raise SystemExit(f"sign-in failed: {answer.status_code}")


def fetch(client: httpx.Client, path: str) -> tuple[float, float]:
    """(server ms from Server-Timing, wall ms) of one page."""
    started = time.perf_counter()
    answer = client.get(path)
    wall = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise SystemExit(f"{path}: {answer.status_code}\n{answer.text[:2000]}")
    timing = re.search(r"dur=([0-9.]+)", answer.headers.get("server-timing", ""))
    return (float(timing.group(1)) if timing else float("nan")), wall


def cold_samples(
    database_url: str, token: str, paths: dict[str, str], starts: int, folder: Path
) -> dict[str, list[float]]:
    """Each page's cold server time after each of `starts` fresh starts of the server (every
    page once, in table order, so a cache shared by pages is warmed by the first that uses it,
    as for a user)."""
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(starts):
        with signed_in(database_url, token, folder) as (client, _how):
            for name, path in paths.items():
                samples[name].append(fetch(client, path)[0])
    return samples


@contextmanager
def signed_in(database_url: str, token: str, folder: Path) -> Iterator[tuple[httpx.Client, str]]:
    """A freshly started server and a client signed in to it; the server stops afterwards."""
    port = free_port()
    process, how = serve(database_url, port, folder / "server.log")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            sign_in(client, token)
            yield client, how
    finally:
        process.terminate()
        process.wait(20)


def warm(client: httpx.Client, path: str, repeat: int) -> dict[str, float]:
    """Warm p50/p95 of the server time and the wall p50, after one fetch that warms the page."""
    fetch(client, path)
    runs = [fetch(client, path) for _ in range(repeat)]
    server = sorted(s for s, _ in runs)
    return {
        "p50_ms": statistics.median(server),
        "p95_ms": server[min(len(server) - 1, round(0.95 * (len(server) - 1)))],
        "wall_p50_ms": statistics.median(w for _, w in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--traces", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--starts", type=int, default=5, help="fresh server starts, each giving one cold sample"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--database", type=Path, help="Keep the loaded SQLite file here and reuse it if present."
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="plaudit-console-bench-"))
    file = args.database or folder / "bench.db"
    database_url = f"sqlite:///{file}"
    seconds = 0.0 if file.exists() else load(database_url, args.events, args.traces)
    analyze(database_url)
    token = admin_token(database_url)
    # A conversation in the middle of the loaded traces (one that exists at any size).
    talk = conversation_of(min(492, max(0, args.traces - 1)))
    paths = {**PAGES, "conversation": f"/conversations/{talk}"}
    try:
        cold = cold_samples(database_url, token, paths, max(1, args.starts), folder)
        with signed_in(database_url, token, folder) as (client, how):
            figures = {
                name: {**cold_figures(cold[name]), **warm(client, path, args.repeat)}
                for name, path in paths.items()
            }
    finally:
        for path in folder.glob("*"):
            path.unlink()
        folder.rmdir()
    report(args, seconds, how, figures)


def cold_figures(samples: list[float]) -> dict[str, Any]:
    """A page's cold samples, their median and their worst."""
    return {"cold_ms": statistics.median(samples), "cold_max_ms": max(samples),
            "cold_samples_ms": samples}  # fmt: skip


def report(args: argparse.Namespace, seconds: float, how: str, figures: dict[str, Any]) -> None:
    """The table (or JSON) of figures against the target."""
    if args.json:
        json.dump({"store": "sqlite", "events": args.events, "traces": args.traces,
                   "load_seconds": seconds,
                   "server": how, "pages": figures}, sys.stdout, indent=2)  # fmt: skip
        return
    print(
        f"\nsqlite: {args.events:,} events and {args.traces:,} traces "
        f"({args.traces * SPANS_PER_TRACE:,} spans) loaded in {seconds:.1f} s; server: {how}"
    )
    print(f"{'page':<40} {'cold':>7} {'cold max':>9} {'p50':>7} {'p95':>7} {'wall p50':>9}"
          f" {'target':>7}")  # fmt: skip
    for name, f in figures.items():
        mark = "ok" if f["p50_ms"] <= TARGET_MS and f["cold_max_ms"] <= TARGET_MS else "MISSED"
        print(f"{name:<40} {f['cold_ms']:7.1f} {f['cold_max_ms']:9.1f} {f['p50_ms']:7.1f} "
              f"{f['p95_ms']:7.1f} {f['wall_p50_ms']:9.1f} {TARGET_MS:7.0f}  {mark}")  # fmt: skip
    starts = max(1, args.starts)
    print("server times in ms (Server-Timing). cold = the first request of each page after a")
    print(f"fresh start, median and worst of {starts} starts (pages in this order, so a cache")
    print(f"shared by pages is warmed by the first); p50/p95 over {args.repeat} warm requests.")
    print("The overview's aggregate and the capability list are cached 30 s / 60 s, so p50 and")
    print("p95 of the pages that use them are cache hits: cold is their honest cost.")


if __name__ == "__main__":
    main()
