"""Where one durable one-event commit spends its time: the store alone, in-process.

`bench/ingest.py`'s `alone` phase reports the p50 of one event per commit; this script splits
that commit into its parts. It writes events one at a time through the server's `Writer` (as
the `alone` phase does, on a fresh database prefilled with batches) and takes timestamps at
each step:

- *make*: validating the raw event and building the `StoreFeedback` op (the caller's thread);
- *to writer*: from queueing the op until the writer thread starts the commit;
- each SQL statement the commit runs, by what it does (SQLAlchemy's cursor events);
- *commit*: from the COMMIT until the writer turns to answering (WAL write and fsync);
- *writer other*: the writer's own Python between and around the statements;
- *back*: from the writer answering until the caller runs again.

`--mode async` awaits `Writer.write` on an event loop (uvloop), as the server does, instead of
`write_sync`. CPU per commit is the process's CPU time (all threads) over the timed commits.
`--mode batch` writes batches of 500 on 4 threads instead (the `alone` phase's first half), to
check that what helps one event does not cost batches: events/s and CPU per event. `--mode http`
runs `plaudit serve` on a fresh database instead and sends one event at a time over one
connection (the `sequential` phase of `bench/ingest.py`, without the phases before it, so no
span is stored and every event waits for its span): p50 and the server's CPU per request.

    python bench/one_event.py                      # SQLite, 5 s
    python bench/one_event.py --postgres            # PostgreSQL at 127.0.0.1:5432, database test
    python bench/one_event.py --mode async --json

With `PYTHONPATH=<other checkout>/src` it measures that checkout's store (for A/B runs).
"""

import argparse
import json
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import (
    BATCH_SIZE,
    DEFAULT_POSTGRES,
    FeedbackMaker,
    Http,
    Ledger,
    closed_loop_phase,
    cpu_seconds,
    create_token,
    feedback_requests,
    record_feedback_answer,
    run_async,
    start_server,
    wait_ready,
)
from bench.scratch import scratch_database
from plaudit.core.privacy import PiiMode
from plaudit.core.validation import validate_feedback
from plaudit.store.database import create_database_engine
from plaudit.store.feedback import StoreFeedback
from plaudit.store.migrate import upgrade
from plaudit.store.writer import Writer

_KINDS = (
    (re.compile(r"^SELECT .* FROM \"?feedback_history"), "history lookup (deleted ids)"),
    (re.compile(r"^SELECT .*\"?spans\"?", re.S), "span lookup (linking)"),
    (re.compile(r"^SELECT .* FROM \"?feedback\"? ", re.S), "existing ids lookup"),
    (re.compile(r"^INSERT INTO \"?feedback\"? .*ON CONFLICT", re.S), "insert (ON CONFLICT)"),
    (re.compile(r"^INSERT INTO \"?feedback\"? "), "insert"),
    (re.compile(r"^INSERT INTO \"?feedback_rollup"), "rollup upsert"),
    (re.compile(r"^INSERT INTO \"?feedback_metadata_rollup"), "metadata rollup upsert"),
    (re.compile(r"pg_advisory_xact_lock"), "advisory lock"),
    (re.compile(r"^BEGIN", re.I), "begin"),
)


def kind_of(statement: str) -> str:
    for pattern, kind in _KINDS:
        if pattern.search(statement):
            return kind
    return "other: " + statement[:40]


class Clock:
    """Timestamps of the commit in progress, written by the writer thread."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.statements: list[tuple[str, int, int]] = []
        self.started = self.started_cpu = 0
        self.commit_began = self.commit_began_cpu = 0
        self.answered = self.answered_cpu = 0
        self._t = self._cpu = 0

    def watch(self, engine: Engine) -> None:
        """Time every statement at the driver's cursor, whoever runs it (SQLAlchemy or the
        store's own `execute`), and note when a transaction begins and commits."""
        clock = self

        def timed(method: Callable[..., Any]) -> Callable[..., Any]:
            def run(cursor: Any, statement: str, *args: Any, **kwargs: Any) -> Any:
                wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
                try:
                    return method(cursor, statement, *args, **kwargs)
                finally:
                    wall, cpu = time.perf_counter_ns() - wall, time.thread_time_ns() - cpu
                    clock.statements.append((kind_of(statement), wall, cpu))

            return run

        if engine.dialect.name == "sqlite":

            class Cursor(sqlite3.Cursor):
                execute = timed(sqlite3.Cursor.execute)
                executemany = timed(sqlite3.Cursor.executemany)

            class SqliteConnection(sqlite3.Connection):
                def cursor(self, factory: Any = Cursor) -> Any:
                    return super().cursor(factory)

            factory: dict[str, Any] = {"factory": SqliteConnection}
        else:
            import psycopg

            class PgCursor(psycopg.Cursor[Any]):
                execute = timed(psycopg.Cursor.execute)
                executemany = timed(psycopg.Cursor.executemany)

            factory = {"cursor_factory": PgCursor}

        @event.listens_for(engine, "do_connect")
        def connect(_d: Any, _r: Any, _a: Any, params: dict[str, Any]) -> None:
            params.update(factory)

        @event.listens_for(engine, "begin")
        def begin(_: Any) -> None:
            if not self.started:
                self.started, self.started_cpu = time.perf_counter_ns(), time.thread_time_ns()

        @event.listens_for(engine, "commit")
        def commit(_: Any) -> None:
            self.commit_began = time.perf_counter_ns()
            self.commit_began_cpu = time.thread_time_ns()


class TimedWriter(Writer):
    """The server's writer, noting when it answers."""

    clock: Clock

    def _finish(self, group: Any, results: Any, error: Any) -> None:
        self.clock.answered = time.perf_counter_ns()
        self.clock.answered_cpu = time.thread_time_ns()
        super()._finish(group, results, error)


def make_op(maker: FeedbackMaker) -> StoreFeedback:
    now = datetime.now(UTC)
    checked = validate_feedback(maker.event(), pointer="", now=now, configs={}, check_nul=False)
    assert not isinstance(checked, list), checked
    return StoreFeedback("default", [checked], now, None, pii=PiiMode.REDACT)


def prefill(writer: Writer, maker: FeedbackMaker, events: int) -> None:
    now = datetime.now(UTC)
    for _ in range(0, events, BATCH_SIZE):
        raw = [maker.event() for _ in range(BATCH_SIZE)]
        checked = [validate_feedback(r, pointer="", now=now, configs={}) for r in raw]
        batch = [c for c in checked if not isinstance(c, list)]
        writer.write_sync(StoreFeedback("default", batch, now, None, pii=PiiMode.REDACT))


def batches(writer: Writer, seconds: float) -> dict[str, Any]:
    """Batches of 500 on 4 threads for `seconds`: events/s and process CPU per event."""
    makers = [FeedbackMaker(f"b{n}", 5_000) for n in range(4)]
    cpu_began, wall_began = time.process_time(), time.perf_counter()
    deadline = wall_began + seconds

    def loop(maker: FeedbackMaker) -> int:
        written = 0
        while time.perf_counter() < deadline:
            prefill(writer, maker, BATCH_SIZE)
            written += BATCH_SIZE
        return written

    with ThreadPoolExecutor(4) as pool:
        written = sum(pool.map(loop, makers))
    cpu, wall = time.process_time() - cpu_began, time.perf_counter() - wall_began
    return {
        "events": written,
        "events_per_s": round(written / wall),
        "cpu_us_per_event": round(cpu / written * 1e6, 2),
    }


async def one_at_a_time(
    port: int, seconds: float, make: Callable[[], tuple[list[str], bytes]], ledger: Ledger
) -> list[float]:
    """Latencies (s) of requests sent one after another on one connection, timed with
    `perf_counter`: the event loop's clock (uvloop's) counts whole milliseconds."""
    connection = await Http.connect(port)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    try:
        while time.perf_counter() < deadline:
            ids, request = make()
            sent = time.perf_counter()
            status, body = await connection.send(request)
            latencies.append(time.perf_counter() - sent)
            record_feedback_answer(ledger, ids, status, body)
    finally:
        connection.close()
    return latencies


def over_http(url: str, workdir: Path, seconds: float, events: int) -> dict[str, Any]:
    """One connection, one event per request, each answer awaited: p50 and server CPU."""
    server, began = start_server(url, workdir)
    try:
        wait_ready(server, began)
        token = create_token(url)
        ledger = Ledger()
        batches = feedback_requests(FeedbackMaker("pre", 5_000), token, BATCH_SIZE)
        for _ in range(events // BATCH_SIZE):
            run_async(closed_loop_phase(server.port, 0.0, 1, batches, ledger))
        single = feedback_requests(FeedbackMaker("one", 5_000), token, None)
        run_async(one_at_a_time(server.port, 0.5, single, ledger))  # warm up
        cpu = cpu_seconds(server.pid)
        latencies = run_async(one_at_a_time(server.port, seconds, single, ledger))
        cpu = cpu_seconds(server.pid) - cpu
    finally:
        server.kill()
    if ledger.failed or ledger.not_created:
        raise SystemExit(f"requests failed: {ledger}; server log:\n{server.log_tail()}")
    return {
        "requests": len(latencies),
        "p50_us": round(statistics.median(latencies) * 1e6, 1),
        "server_cpu_us_per_request": round(cpu / len(latencies) * 1e6, 1),
    }


def run(url: str, seconds: float, events: int, mode: str) -> dict[str, Any]:
    engine = create_database_engine(url)
    writer = TimedWriter(engine)
    clock = writer.clock = Clock()
    clock.watch(engine)  # before the first connection, which the writer may reuse
    upgrade(engine)
    writer.start()
    maker = FeedbackMaker("one", 5_000)
    prefill(writer, maker, events)
    clock.reset()
    if mode == "batch":
        try:
            return batches(writer, seconds)
        finally:
            writer.stop()
            engine.dispose()
    parts: dict[str, list[float]] = defaultdict(list)
    cpu_parts: dict[str, list[float]] = defaultdict(list)
    cpu_began, wall_began = time.process_time(), time.perf_counter()

    def record(t0: int, t1: int, t2: int) -> None:
        parts["make"].append((t1 - t0) / 1e3)
        parts["to writer"].append((clock.started - t1) / 1e3)
        statements = statements_cpu = 0
        by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for kind, ns, cpu_ns in clock.statements:
            by_kind[kind][0] += ns
            by_kind[kind][1] += cpu_ns
            statements += ns
            statements_cpu += cpu_ns
        for kind, (ns, cpu_ns) in by_kind.items():
            parts[kind].append(ns / 1e3)
            cpu_parts[kind].append(cpu_ns / 1e3)
        commit = "commit (WAL write + fsync)"
        commit_cpu = clock.answered_cpu - clock.commit_began_cpu
        parts[commit].append((clock.answered - clock.commit_began) / 1e3)
        cpu_parts[commit].append(commit_cpu / 1e3)
        writer_span = clock.answered - clock.started
        other = writer_span - statements - (clock.answered - clock.commit_began)
        parts["writer other (Python)"].append(other / 1e3)
        other_cpu = clock.answered_cpu - clock.started_cpu - statements_cpu - commit_cpu
        cpu_parts["writer other (Python)"].append(other_cpu / 1e3)
        cpu_parts["writer thread total"].append((clock.answered_cpu - clock.started_cpu) / 1e3)
        parts["back to caller"].append((t2 - clock.answered) / 1e3)
        parts["total (queue to answer)"].append((t2 - t1) / 1e3)
        parts["p50 (make to answer)"].append((t2 - t0) / 1e3)
        parts["statements per commit"].append(len(clock.statements))

    commits = 0
    deadline = time.perf_counter() + seconds
    if mode == "sync":
        while time.perf_counter() < deadline:
            clock.reset()
            t0 = time.perf_counter_ns()
            op = make_op(maker)
            t1 = time.perf_counter_ns()
            writer.write_sync(op)
            record(t0, t1, time.perf_counter_ns())
            commits += 1
    else:
        import uvloop

        async def loop() -> int:
            done = 0
            while time.perf_counter() < deadline:
                clock.reset()
                t0 = time.perf_counter_ns()
                op = make_op(maker)
                t1 = time.perf_counter_ns()
                await writer.write(op)
                record(t0, t1, time.perf_counter_ns())
                done += 1
            return done

        commits = uvloop.run(loop())
    cpu = time.process_time() - cpu_began
    wall = time.perf_counter() - wall_began
    writer.stop()
    engine.dispose()
    medians = {k: round(statistics.median(v), 1) for k, v in parts.items()}
    return {
        "commits": commits,
        "cpu_us_per_commit": round(cpu / commits * 1e6, 1),
        "wall_us_per_commit": round(wall / commits * 1e6, 1),
        "median_us": medians,
        "writer_cpu_median_us": {k: round(statistics.median(v), 1) for k, v in cpu_parts.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", nargs="?", const=DEFAULT_POSTGRES, metavar="URL")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--prefill", type=int, default=20_000, help="events stored first")
    parser.add_argument("--mode", choices=("sync", "async", "batch", "http"), default="sync")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="plaudit-one-") as workdir,
        scratch_database(options.postgres, Path(workdir)) as url,
    ):
        if options.mode == "http":
            out = over_http(url, Path(workdir), options.seconds, options.prefill)
        else:
            out = run(url, options.seconds, options.prefill, options.mode)
    if options.json or options.mode in ("batch", "http"):
        print(json.dumps(out))
        return
    print(f"{out['commits']} commits; CPU {out['cpu_us_per_commit']} µs per commit, "
          f"wall {out['wall_us_per_commit']} µs")  # fmt: skip
    print(f"  {'median of each commit, µs':40} {'wall':>9} {'writer CPU':>11}")
    for part, value in out["median_us"].items():
        cpu = out["writer_cpu_median_us"].get(part, "")
        print(f"  {part:40} {value:>9} {cpu:>11}")
    total = out["writer_cpu_median_us"]["writer thread total"]
    print(f"  {'writer thread CPU':40} {'':>9} {total:>11}")


if __name__ == "__main__":
    main()
