"""Query benchmark: load realistic feedback, then time the queries of DESIGN §11 / issue 4.

    python bench/query.py                    # 1,000,000 events into a fresh SQLite file
    python bench/query.py --events 100000    # smaller
    python bench/query.py --postgres         # PostgreSQL at 127.0.0.1:5432, fresh schema
    python bench/query.py --json             # machine-readable figures

Events: 20 capabilities, 50,000 users, 90 days, mixed kinds (thumbs, star ratings, bools,
categories, signals, text), metadata on every event, scores on some. Each query runs once to warm
up, then `--repeat` times; p50 and p95 of the wall time are printed next to the target.
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
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine, create_engine, insert, text

from plaudit.analytics.run import run_query
from plaudit.core.query.text import parse_filters, parse_query
from plaudit.store.database import create_database_engine
from plaudit.store.event_search import events_page, search_traces
from plaudit.store.migrate import upgrade
from plaudit.store.rollup_writes import rebuild
from plaudit.store.schema import feedback
from plaudit.store.sql_aggregate import Window

PROJECT = "bench"
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


def _event(rng: random.Random, index: int) -> dict[str, Any]:
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
    micros = int((NOW - timedelta(seconds=rng.uniform(0, 90 * 86_400))).timestamp() * 1_000_000)
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


def load(engine: Engine, events: int) -> float:
    """Insert `events` rows in big transactions; seconds taken."""
    rng = random.Random(4)
    started = time.perf_counter()
    columns = (TextColumn("loading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("load", total=events)
        for start in range(0, events, 50_000):
            rows = [_event(rng, i) for i in range(start, min(events, start + 50_000))]
            with engine.begin() as connection:
                for chunk in range(0, len(rows), 10_000):
                    connection.execute(insert(feedback), rows[chunk : chunk + 10_000])
            progress.advance(task, len(rows))
    with engine.begin() as connection:
        # The rows went in without the write path: sum the rollups the way migration 0005 does.
        rebuild(connection)
        connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


def cases(engine: Engine) -> dict[str, Callable[[], Any]]:
    """The timed operations, each on its own connection as a request would have."""

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
    return {
        names[0]: query('satisfaction by capability, day where name = "response-quality"'),
        names[1]: query('p95(value) by capability where name = "wait-seconds"'),
        names[2]: explorer_page,
        names[3]: query("count by metadata.plan"),
        names[4]: trace_search,
    }


def measure(run: Callable[[], Any], repeat: int) -> tuple[float, float]:
    run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def fresh_engine(postgres: bool, path: Path | None) -> tuple[Engine, Callable[[], None]]:
    if not postgres:
        folder = Path(tempfile.mkdtemp(prefix="plaudit-bench-")) if path is None else path.parent
        file = path or folder / "bench.db"
        engine = create_database_engine(f"sqlite:///{file}")
        return (
            engine,
            lambda: [p.unlink(missing_ok=True) for p in folder.glob(file.name + "*")] and None,
        )
    schema = f"bench_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine = create_database_engine(f"{POSTGRES}?options=-csearch_path%3D{schema}")

    def drop() -> None:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))

    return engine, drop


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    engine, clean = fresh_engine(args.postgres, None)
    try:
        upgrade(engine)
        seconds = load(engine, args.events)
        figures = {name: measure(run, args.repeat) for name, run in cases(engine).items()}
    finally:
        clean()
    store = "postgresql" if args.postgres else "sqlite"
    if args.json:
        json.dump({"store": store, "events": args.events, "load_seconds": seconds,
                   "queries": {n: {"p50_ms": a, "p95_ms": b} for n, (a, b) in figures.items()}},
                  sys.stdout, indent=2)  # fmt: skip
        return
    rate = args.events / seconds
    print(f"\n{store}: {args.events:,} events loaded in {seconds:.1f} s ({rate:,.0f}/s)")
    print(f"{'query':<48} {'p50 ms':>8} {'p95 ms':>8} {'target':>8}")
    for name, (p50, p95) in figures.items():
        mark = "ok" if p50 <= TARGETS_MS[name] else "MISSED"
        print(f"{name:<48} {p50:8.1f} {p95:8.1f} {TARGETS_MS[name]:8d}  {mark}")


if __name__ == "__main__":
    main()
