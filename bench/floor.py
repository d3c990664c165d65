"""What SQLite and the disk allow, with no Python of ours in the way: the floor under the ingest
targets.

The `feedback` rows are the server's own (the bench's events, validated and built into rows by
`StoreFeedback`, linked to their spans as in `bench/ingest.py`'s batch phase); they are inserted
with Python's `sqlite3` alone, `executemany` of the statement the writer uses, into a freshly
migrated database with the server's settings (WAL, `synchronous=FULL`), so each figure is the
cost of SQLite's own work and of binding the parameters. It prints:

- microseconds per row at 500 rows per commit with every index, without each secondary index in
  turn, and with none; the same in memory (no disk at all);
- the same rows if every event waited for its span (`link_status = 'pending'`, which puts it in
  the partial index of waiting feedback);
- the time of one `fsync` of the write-ahead log's file after writing 1, 4 and 14 pages (a
  one-event commit writes about 14: one per b-tree it touches), which bounds a durable
  one-event request from below.

    python bench/floor.py                 # 50,000 rows
    python bench/floor.py --rows 20000 --json
"""

import argparse
import json
import os
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.ingest import FeedbackMaker  # noqa: E402
from plaudit.core.privacy import PiiMode  # noqa: E402
from plaudit.core.validation import validate_feedback  # noqa: E402
from plaudit.store.database import create_database_engine  # noqa: E402
from plaudit.store.feedback import StoreFeedback  # noqa: E402
from plaudit.store.migrate import upgrade  # noqa: E402

BATCH = 500
PAGE = 4096


def feedback_rows(count: int) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """Column names and `count` rows as the writer inserts them."""
    maker = FeedbackMaker("f", 1000)
    now = datetime.now(UTC)
    events = []
    for _ in range(count):
        event = validate_feedback(maker.event(), pointer="", now=now, configs={}, check_nul=False)
        assert not isinstance(event, list), event  # the maker makes valid events only
        events.append(event)
    rows = StoreFeedback("default", events, now, None, pii=PiiMode.REDACT).rows
    for row in rows:
        row["revision"] = 1
        row["link_status"] = "linked"
    columns = tuple(rows[0])
    return columns, [tuple(row.values()) for row in rows]


def migrated_schema(folder: Path) -> tuple[str, list[tuple[str, str]]]:
    """The `feedback` table's CREATE statement and its indexes' (name, CREATE), as migrated."""
    path = folder / "schema.db"
    engine = create_database_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    with sqlite3.connect(path) as connection:
        found = connection.execute(
            "SELECT type, name, sql FROM sqlite_master"
            " WHERE tbl_name = 'feedback' AND sql IS NOT NULL"
        ).fetchall()
    table = next(sql for kind, _, sql in found if kind == "table")
    return table, [(name, sql) for kind, name, sql in found if kind == "index"]


def insert_cost(
    where: str,
    table: str,
    indexes: list[str],
    columns: tuple[str, ...],
    rows: list[tuple[Any, ...]],
) -> dict[str, float]:
    """µs of wall and CPU time per row to insert `rows`, `BATCH` per commit, into a new table."""
    connection = sqlite3.connect(where, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    for sql in (table, *indexes):
        connection.execute(sql)
    statement = (
        f"INSERT INTO feedback ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    )
    used = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    for start in range(0, len(rows), BATCH):
        connection.execute("BEGIN")
        connection.executemany(statement, rows[start : start + BATCH])
        connection.execute("COMMIT")
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_SELF)
    connection.close()
    cpu = (after.ru_utime - used.ru_utime) + (after.ru_stime - used.ru_stime)
    return {"wall_us": wall / len(rows) * 1e6, "cpu_us": cpu / len(rows) * 1e6}


def fsync_ms(folder: Path, pages: int, times: int = 200) -> float:
    """Median ms of one fsync after appending `pages` pages to a file in `folder`."""
    path = folder / "fsync.bin"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    spent = []
    try:
        for _ in range(times):
            os.write(descriptor, b"\0" * PAGE * pages)
            began = time.perf_counter()
            os.fsync(descriptor)
            spent.append(time.perf_counter() - began)
    finally:
        os.close(descriptor)
        path.unlink()
    return statistics.median(spent) * 1e3


def measure(count: int, folder: Path) -> dict[str, Any]:
    columns, rows = feedback_rows(count)
    table, indexes = migrated_schema(folder)
    every = [sql for _, sql in indexes]
    runs = 0

    def on_disk(kept: list[str], these: list[tuple[Any, ...]] = rows) -> dict[str, float]:
        nonlocal runs
        runs += 1
        return insert_cost(str(folder / f"floor-{runs}.db"), table, kept, columns, these)

    status = columns.index("link_status")
    waiting = [(*row[:status], "pending", *row[status + 1 :]) for row in rows]
    figures: dict[str, Any] = {
        "rows": count,
        "every index": on_disk(every),
        "every index, every event waiting for its span": on_disk(every, waiting),
        "no secondary index": on_disk([]),
        "in memory, every index": insert_cost(":memory:", table, every, columns, rows),
        "in memory, no secondary index": insert_cost(":memory:", table, [], columns, rows),
    }
    figures["without each index"] = {
        name: on_disk([sql for other, sql in indexes if other != name]) for name, _ in indexes
    }
    figures["fsync_ms"] = {pages: fsync_ms(folder, pages) for pages in (1, 4, 14)}
    return figures


def show(figures: dict[str, Any]) -> None:
    every = figures["every index"]["wall_us"]
    print(f"feedback rows through sqlite3 alone, {BATCH} per commit, {figures['rows']:,} rows")
    print(f"{'':48} {'wall µs/row':>12} {'CPU µs/row':>11} {'rows/s':>9}")
    for label in (
        "every index",
        "every index, every event waiting for its span",
        "no secondary index",
        "in memory, every index",
        "in memory, no secondary index",
    ):
        cost = figures[label]
        print(
            f"{label:48} {cost['wall_us']:12.1f} {cost['cpu_us']:11.1f} "
            f"{1e6 / cost['wall_us']:9,.0f}"
        )
    print("\nwithout one index (every other kept): µs/row saved")
    for name, cost in sorted(figures["without each index"].items(), key=lambda i: i[1]["wall_us"]):
        print(f"  {name:56} {every - cost['wall_us']:6.1f}")
    print("\nfsync after appending n pages of 4 KiB (median ms):")
    for pages, spent in figures["fsync_ms"].items():
        print(f"  {pages:3} pages  {spent:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="plaudit-floor-") as folder:
        figures = measure(options.rows, Path(folder))
    if options.json:
        print(json.dumps(figures))
    else:
        show(figures)


if __name__ == "__main__":
    main()
