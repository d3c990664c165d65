"""Query benchmark: load realistic feedback, then time the queries of DESIGN §11 / issue 4.

    python bench/query.py                    # 1,000,000 events into a fresh SQLite file
    python bench/query.py --events 100000    # smaller
    python bench/query.py --postgres         # PostgreSQL at 127.0.0.1:5432, fresh schema
    python bench/query.py --json             # machine-readable figures
    python bench/query.py --database /tmp/q.db   # load once into this SQLite file, reuse it after
    python bench/query.py --shuffled         # events stored in random time order (worst case)

Events: 20 capabilities, 50,000 users, 90 days, mixed kinds (thumbs, star ratings, bools,
categories, signals, text), metadata on every event, scores on some; stored oldest first. Each
query runs once to warm up, then `--repeat` times; p50 and p95 of the wall time are printed next
to the target.

Then `plaudit serve` is started on the loaded database as a user would, with a token from
`plaudit token create`, and the same queries, and an NDJSON export of the 10,000 oldest events
(`until` the next one's time) read to its end, are timed over HTTP: the first (cold) request after
start, then p50 and p95 of `--repeat` more. A target is met when the HTTP p50 and p95 are both
within it (`--no-server`: in-process only).
Beside the wall times, the server's CPU time per request (ms, its process and workers) is given:
on a shared machine it moves far less than the wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine, insert, text

from bench.ingest import create_token, start_server, wait_ready
from bench.scratch import scratch_database
from plaudit.analytics.export import Encoder, ExportFormat, page_reader
from plaudit.analytics.run import run_query
from plaudit.core.query.text import parse_filters, parse_query
from plaudit.core.times import rfc3339_micros
from plaudit.store.database import create_database_engine
from plaudit.store.event_search import events_page, search_traces
from plaudit.store.migrate import upgrade
from plaudit.store.projects import ensure_project
from plaudit.store.rollup_writes import rebuild
from plaudit.store.schema import feedback
from plaudit.store.sql_aggregate import Window

PROJECT = "bench"
REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 31, tzinfo=UTC)
CAPABILITIES = [f"capability-{i:02d}" for i in range(20)]
STEPS = ["retrieve", "respond", "summarize"]
PLANS = ["free", "pro", "team", "enterprise"]
REGIONS = ["eu", "us", "apac"]
CATEGORIES = ["hallucination", "too-long", "off-topic", "wrong-tone", "outdated"]
POSTGRES = os.environ.get(
    "PLAUDIT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

TARGETS_MS = {
    "satisfaction by capability × day": 100,
    "p95 of a number by capability": 500,
    "explorer page (capability, filters, newest 50)": 200,
    "count by a metadata path": 300,
    "trace search by feedback": 300,
}
STREAM = "stream 10,000 events (NDJSON export)"
STREAM_TARGET_MS = 100
STREAMED = 10_000


def _event(rng: random.Random, index: int, age_seconds: float) -> dict[str, Any]:
    roll = rng.random()
    capability = CAPABILITIES[min(19, int(rng.paretovariate(1.2)) - 1)]
    satisfied = rng.random() < 0.55 + CAPABILITIES.index(capability) / 60
    if roll < 0.40:
        name, kind, value, num, label = (
            "response-quality",
            "thumb",
            1 if satisfied else -1,
            None,
            None,
        )
        num, label = float(value), "up" if value > 0 else "down"
    elif roll < 0.60:
        stars = max(1, min(5, round(rng.gauss(3.8 if satisfied else 2.2, 1))))
        name, kind, value, num, label = "star-rating", "number", stars, float(stars), None
    elif roll < 0.68:
        seconds = round(rng.lognormvariate(0.5, 0.8), 3)
        name, kind, value, num, label = "wait-seconds", "number", seconds, seconds, None
    elif roll < 0.76:
        name, kind, value, num, label = (
            "resolved",
            "bool",
            satisfied,
            float(satisfied),
            str(satisfied).lower(),
        )
    elif roll < 0.84:
        category = rng.choice(CATEGORIES)
        name, kind, value, num, label = "issue-category", "enum", category, None, category
    elif roll < 0.96:
        name, kind, value, num, label = (
            rng.choice(["copy", "regenerate", "share"]),
            "signal",
            None,
            None,
            None,
        )
    else:
        name, kind, value, num, label = "comment", "text", "it was fine", None, "it was fine"
    micros = int((NOW - timedelta(seconds=age_seconds)).timestamp() * 1_000_000)
    span = index // 2
    return {
        "project": PROJECT, "id": f"{index:012d}", "trace_id": f"{span:032x}",
        "span_id": f"{span + 1:016x}",
        "conversation_id": None, "capability": capability, "step": rng.choice(STEPS), "name": name,
        "kind": kind, "value": value, "value_num": num, "value_text": label,
        "comment": "slow answer" if rng.random() < 0.03 else None, "expected": None,
        "scores": {"relevance": round(rng.random(), 3)} if rng.random() < 0.2 else None,
        "signal_type": "default", "source": "end_user", "implicit": kind == "signal",
        "user_id": f"user-{rng.randrange(50_000):05d}",
        "metadata": {"plan": rng.choice(PLANS), "region": rng.choice(REGIONS),
                     "app_version": f"1.{rng.randrange(12)}"},
        "tags": [], "timestamp": micros, "received_at": micros, "link_status": "linked",
        "pii": None,
        "content_hash": secrets.token_hex(16), "revision": 1,
    }  # fmt: skip


def load(engine: Engine, events: int, shuffled: bool = False) -> float:
    """Insert `events` rows in big transactions; seconds taken.

    Rows are stored oldest first, as a server receives live feedback (`shuffled`: in random
    time order, as this bench stored them before 2026-12-03 — a worst case for reading in time
    order, each row on another database page).
    """
    rng = random.Random(4)
    ages = [rng.uniform(0, 90 * 86_400) for _ in range(events)]
    if not shuffled:
        ages.sort(reverse=True)
    started = time.perf_counter()
    columns = (TextColumn("loading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("load", total=events)
        for start in range(0, events, 50_000):
            rows = [_event(rng, i, ages[i]) for i in range(start, min(events, start + 50_000))]
            with engine.begin() as connection:
                for chunk in range(0, len(rows), 10_000):
                    connection.execute(insert(feedback), rows[chunk : chunk + 10_000])
            progress.advance(task, len(rows))
    with engine.begin() as connection:
        ensure_project(connection, PROJECT)
        # The rows went in without the write path: sum the rollups the way migration 0005 does.
        rebuild(connection)
        connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


def cases(engine: Engine, stream: bool = False) -> dict[str, Callable[[], Any]]:
    """The timed operations, each on its own connection as a request would have; with `stream`,
    the export of the 10,000 oldest events too (read and encoded, page by page, as the server
    does before sending)."""

    def query(text_form: str) -> Callable[[], Any]:
        parsed = parse_query(text_form)

        def run() -> Any:
            with engine.connect() as connection:
                return run_query(connection, parsed, PROJECT, now=NOW, seconds=60)

        return run

    explorer = parse_filters('capability = "capability-03" and name = "star-rating" and value <= 2')
    search = parse_filters("feedback.response-quality = -1", ("feedback", "span"))

    def explorer_page() -> Any:
        with engine.connect() as connection:
            return events_page(connection, PROJECT, explorer, Window(), None, 50, newest_first=True)

    def trace_search() -> Any:
        with engine.connect() as connection:
            return search_traces(connection, PROJECT, search, None, 51)

    names = list(TARGETS_MS)
    chosen = {
        names[0]: query('satisfaction by capability, day where name = "response-quality"'),
        names[1]: query('p95(value) by capability where name = "wait-seconds"'),
        names[2]: explorer_page,
        names[3]: query("count by metadata.plan"),
        names[4]: trace_search,
    }
    if stream:
        url = engine.url.render_as_string(hide_password=False)
        until, count = oldest_events(url, STREAMED)
        chosen[STREAM] = lambda: export_in_process(engine, until, count)
    return chosen


def export_in_process(engine: Engine, until: int, count: int) -> int:
    """`stream_events` without HTTP: the NDJSON export's pages, read and encoded."""
    read = page_reader(engine.connect, PROJECT, [], Window(until=until), raw=True)
    encoder = Encoder(ExportFormat.NDJSON)
    page = read(None)
    lines = encoder.page(page.events).count(b"\n")
    while page.end is not None:
        page = read(page.end)
        lines += encoder.page(page.events).count(b"\n")
    if lines != count:
        raise SystemExit(f"the export held {lines} events, not {count}")
    return lines


def measure(run: Callable[[], Any], repeat: int) -> tuple[float, float]:
    run()
    return _timed(run, repeat)


def http_cases(client: httpx.Client, stream: tuple[int, int]) -> dict[str, Callable[[], Any]]:
    """The same operations as `cases`, as requests to a running server, plus the stream: an
    export of the `stream[1]` events before the time `stream[0]`, read to its end."""

    def query(text_form: str) -> Callable[[], Any]:
        return lambda: _ok(client.post("/v1/query", json={"query": text_form}))

    explorer = {"capability": "capability-03", "name": "star-rating", "q": "value <= 2"}
    names = list(TARGETS_MS)
    return {
        names[0]: query('satisfaction by capability, day where name = "response-quality"'),
        names[1]: query('p95(value) by capability where name = "wait-seconds"'),
        names[2]: lambda: _ok(client.get("/v1/feedback", params={**explorer, "limit": 50})),
        names[3]: query("count by metadata.plan"),
        names[4]: lambda: _ok(
            client.get("/v1/traces", params={"q": "feedback.response-quality = -1", "limit": 50})
        ),
        STREAM: lambda: stream_events(client, *stream),
    }


def _ok(answer: httpx.Response) -> httpx.Response:
    if answer.status_code != 200:
        raise SystemExit(f"{answer.request.url}: {answer.status_code} {answer.text[:1000]}")
    return answer


def stream_events(client: httpx.Client, until: int, count: int) -> int:
    """Read a whole NDJSON export: the `count` oldest events, those before `until` (micros)."""
    lines = 0
    headers = {"accept": "application/x-ndjson"}
    params = {"until": rfc3339_micros(until)}
    with client.stream("GET", "/v1/feedback", headers=headers, params=params) as answer:
        if answer.status_code != 200:
            raise SystemExit(f"export: {answer.status_code}")
        for _ in answer.iter_lines():
            lines += 1
    if lines != count:
        raise SystemExit(f"the export held {lines} events, not {count}")
    return lines


def oldest_events(database_url: str, count: int) -> tuple[int, int]:
    """The time (micros) before which about `count` events lie (the next event's), and how many
    exactly."""
    engine = create_database_engine(database_url)
    try:
        with engine.connect() as connection:
            micros = connection.execute(
                text(
                    "SELECT timestamp FROM feedback WHERE project = :project"
                    " ORDER BY timestamp, id LIMIT 1 OFFSET :count"
                ),
                {"project": PROJECT, "count": count},
            ).scalar_one()
            before = connection.execute(
                text("SELECT count(*) FROM feedback WHERE project = :project AND timestamp < :at"),
                {"project": PROJECT, "at": micros},
            ).scalar_one()
    finally:
        engine.dispose()
    return int(micros), int(before)


def measure_http(run: Callable[[], Any], repeat: int, pid: int) -> dict[str, float]:
    """The cold (first) request, then p50 and p95 of `repeat` more, and the server's CPU
    time per request over those `repeat`."""
    from bench.ingest import cpu_seconds

    started = time.perf_counter()
    run()
    cold = (time.perf_counter() - started) * 1000
    cpu = cpu_seconds(pid)
    p50, p95 = _timed(run, repeat)
    server_cpu = (cpu_seconds(pid) - cpu) * 1000 / repeat
    return {"cold_ms": cold, "p50_ms": p50, "p95_ms": p95, "server_cpu_ms": server_cpu}


def _timed(run: Callable[[], Any], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def over_http(database_url: str, repeat: int, stream: bool) -> dict[str, dict[str, float]]:
    """Start `plaudit serve` on the loaded database and time every case through it."""
    token = create_token(database_url, PROJECT)
    window = oldest_events(database_url, STREAMED) if stream else (0, 0)
    workdir = Path(tempfile.mkdtemp(prefix="plaudit-query-bench-"))
    server, began = start_server(database_url, workdir)
    try:
        wait_ready(server, began)
        headers = {"authorization": f"Bearer {token}"}
        base = f"http://127.0.0.1:{server.port}"
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            every = http_cases(client, window)
            chosen = {n: r for n, r in every.items() if stream or n != STREAM}
            return {name: measure_http(run, repeat, server.pid) for name, run in chosen.items()}
    finally:
        server.kill()
        server.process.wait()
        for path in workdir.glob("*"):
            path.unlink()
        workdir.rmdir()


@contextmanager
def bench_database(postgres: bool, path: Path | None) -> Iterator[str]:
    """The URL of an empty database, removed afterwards (a kept `path` is never removed)."""
    if not postgres and path is not None:
        yield f"sqlite:///{path}"
        return
    with (
        tempfile.TemporaryDirectory(prefix="plaudit-bench-") as folder,
        scratch_database(POSTGRES if postgres else None, Path(folder)) as url,
    ):
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-server", action="store_true", help="time the queries in-process only")
    parser.add_argument(
        "--shuffled", action="store_true", help="store the events in random time order"
    )
    parser.add_argument(
        "--database",
        type=Path,
        help="SQLite file to keep: loaded with --events when it does not exist, reused as is after",
    )
    args = parser.parse_args()
    kept = args.database is not None and args.database.exists()
    http: dict[str, dict[str, float]] = {}
    with bench_database(args.postgres, args.database) as url:
        engine = create_database_engine(url)
        try:
            upgrade(engine)
            seconds = 0.0 if kept else load(engine, args.events, args.shuffled)
            if kept:
                with engine.connect() as connection:
                    args.events = connection.execute(
                        text("SELECT count(*) FROM feedback")
                    ).scalar_one()
            chosen = cases(engine, stream=args.events >= STREAMED)
            figures = {name: measure(run, args.repeat) for name, run in chosen.items()}
        finally:
            engine.dispose()
        if not args.no_server:
            http = over_http(url, args.repeat, stream=args.events >= STREAMED)
    store = "postgresql" if args.postgres else "sqlite"
    if args.json:
        queries = {n: {"p50_ms": a, "p95_ms": b} for n, (a, b) in figures.items()}
        json.dump({"store": store, "events": args.events, "load_seconds": seconds,
                   "queries": queries, "http": http}, sys.stdout, indent=2)  # fmt: skip
        return
    print_table(store, args.events, seconds, figures, http)


def print_table(
    store: str,
    events: int,
    seconds: float,
    figures: dict[str, tuple[float, float]],
    http: dict[str, dict[str, float]],
) -> None:
    """In-process p50/p95 beside the server's cold, p50 and p95; the target judged on HTTP."""
    loaded = f"loaded in {seconds:.1f} s ({events / seconds:,.0f}/s)" if seconds else "(kept file)"
    print(f"\n{store}: {events:,} events {loaded}")
    print(f"{'':<48} {'in-process':>17} {'over HTTP (plaudit serve)':>35}")
    heads = ("p50", "p95", "cold", "p50", "p95", "cpu")
    print(f"{'query':<48} {' '.join(f'{h:>8}' for h in heads)} {'target':>8}")
    targets = {**TARGETS_MS, STREAM: STREAM_TARGET_MS}
    for name, target in targets.items():
        local = figures.get(name)
        over = http.get(name)
        if local is None and over is None:
            continue
        cells = [f"{v:8.1f}" for v in local] if local else [f"{'-':>8}"] * 2
        cells += (
            [f"{over[k]:8.1f}" for k in ("cold_ms", "p50_ms", "p95_ms", "server_cpu_ms")]
            if over
            else []
        )
        judged = (over["p50_ms"], over["p95_ms"]) if over else local or (0.0, 0.0)
        mark = "ok" if max(judged) <= target else "MISSED"
        print(f"{name:<48} {' '.join(cells)} {target:8d}  {mark}")
    print("ms of wall time seen by the client (cpu: the server's CPU ms per request);")
    print("a target is met when the HTTP p50 and p95 both are within it")


if __name__ == "__main__":
    main()
