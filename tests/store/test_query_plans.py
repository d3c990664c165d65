"""The plans SQLite picks for feedback reads on a database with statistics, as `ANALYZE` leaves
them on a large one (a bench database of 400,000 events of one project).

The statistics are written, not gathered, so the planner sees a large database while the test
stores a handful of events; the statements are the ones the code runs, caught as they are sent.
"""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, text

from plaudit.core.privacy import PiiMode
from plaudit.core.query.params import listing_filters
from plaudit.core.validation import validate_feedback
from plaudit.loop.queue_fill import fill_queue
from plaudit.store.annotation_queues import create_queue, queue_row, set_fill_mark
from plaudit.store.database import create_database_engine
from plaudit.store.event_search import events_page
from plaudit.store.feedback import StoreFeedback
from plaudit.store.links import KnownTargets, SpanFacts
from plaudit.store.migrate import upgrade
from plaudit.store.schema import to_micros
from plaudit.store.spans import LinkAllPending, link_known
from plaudit.store.sql_aggregate import Window
from plaudit.store.trace_summaries import most_discussed_traces

PROJECT = "bench"
NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)
TRACE_INDEX = "ix_feedback_project_trace_id"

# sqlite_stat1 of a bench/query.py database of 400,000 events (one project, 50,000 users, two
# events per trace), after migration 0014, with 200,000 spans.
STATISTICS = {
    ("feedback", "ix_feedback_pending"): "2000 2000 1",
    ("feedback", "ix_feedback_query"): "419539 419539 41954 1 1 1 1",
    ("feedback", "ix_feedback_user"): "400000 400000 9 1",
    ("feedback", "ix_feedback_received"): "419539 419539 1",
    (
        "feedback",
        "ix_feedback_project_timestamp_capability_kind_value_num",
    ): "419539 419539 1 1 1 1",
    ("feedback", TRACE_INDEX): "419539 419539 3",
    ("feedback", "sqlite_autoindex_feedback_1"): "419539 419539 1",
    ("spans", "ix_spans_roots"): "200000 200000 1",
    ("spans", "ix_spans_project_span_id"): "200000 200000 1",
    ("spans", "ix_spans_project_conversation_id"): "200000 200000 200000",
    ("spans", "sqlite_autoindex_spans_1"): "200000 200000 1 1",
}


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated SQLite database whose planner statistics are those of a large one."""
    engine = create_database_engine(f"sqlite:///{tmp_path_factory.mktemp('plans') / 'p.db'}")
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))  # creates sqlite_stat1
        connection.execute(text("DELETE FROM sqlite_stat1"))
        for (table, index), stat in STATISTICS.items():
            connection.execute(
                text("INSERT INTO sqlite_stat1 VALUES (:table, :index, :stat)"),
                {"table": table, "index": index, "stat": stat},
            )
    engine.dispose()  # connections opened from now on load these statistics
    yield engine
    engine.dispose()


def plans_of(engine: Engine, run: Callable[[Connection], Any]) -> list[str]:
    """The query plan of each SELECT of `feedback` that `run` sends, as one line each."""
    sent: list[tuple[str, Any]] = []

    def catch(_c: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM feedback" in statement:
            sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", catch)
    try:
        with engine.begin() as connection:
            run(connection)
            return [
                " | ".join(
                    row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {s}", p)
                )
                for s, p in sent
            ]
    finally:
        event.remove(engine, "before_cursor_execute", catch)


def test_most_discussed_traces_of_a_window_read_the_window(analysed: Engine) -> None:
    week = Window(to_micros(NOW - timedelta(days=7)), None)
    [plan] = plans_of(analysed, lambda c: most_discussed_traces(c, PROJECT, week, 0, 20))
    assert TRACE_INDEX not in plan
    assert "timestamp>?" in plan
    # all time, the trace index alone answers (covering, in group order)
    [plan] = plans_of(analysed, lambda c: most_discussed_traces(c, PROJECT, Window(), 0, 20))
    assert f"COVERING INDEX {TRACE_INDEX}" in plan


@pytest.mark.parametrize("query", ["", 'name = "response-quality"', 'capability = "search"'])
def test_queue_fill_reads_what_was_received_since_its_mark(analysed: Engine, query: str) -> None:
    name = f"q{abs(hash(query))}"

    def fill(connection: Connection) -> None:
        create_queue(
            connection, PROJECT, name, {"feedback_names": [], "fill": {"query": query}}, NOW
        )
        set_fill_mark(connection, PROJECT, name, to_micros(NOW - timedelta(seconds=1)))
        fill_queue(connection, queue_row(connection, PROJECT, name), NOW)

    [plan] = plans_of(analysed, fill)
    assert "ix_feedback_received (project=? AND received_at>? AND received_at<?)" in plan


def test_a_span_filter_reads_by_index(analysed: Engine) -> None:
    filters = listing_filters([("span_id", "00000000000000ab")])
    [plan] = plans_of(
        analysed, lambda c: events_page(c, PROJECT, filters, Window(), None, 51, True)
    )
    assert "SCAN" not in plan
    assert "ix_feedback_pending (project=? AND span_id=?)" in plan
    assert f"{TRACE_INDEX} (project=? AND trace_id=?)" in plan


def test_linking_reads_only_the_pending_events(analysed: Engine) -> None:
    span = SpanFacts("0" * 32, None, None)
    known = KnownTargets(spans={"00000000000000ab": [("0" * 32, span)]})
    [plan] = plans_of(analysed, lambda c: link_known(c, PROJECT, known))
    assert "ix_feedback_pending (project=? AND span_id=?)" in plan
    # start-up: the projects with pending events, then each one's
    raw = {"id": "waiting", "name": "helpful", "kind": "thumb", "value": 1, "span_id": "ab" * 8}
    event = validate_feedback(raw, pointer="", now=NOW, configs={})
    with analysed.begin() as connection:
        StoreFeedback(PROJECT, [event], NOW, None, pii=PiiMode.REDACT).apply(connection)  # type: ignore[list-item]
    projects, of_project = plans_of(analysed, LinkAllPending().apply)
    assert projects.startswith("SCAN feedback USING") and "ix_feedback_pending" in projects
    assert "ix_feedback_pending (project=?)" in of_project
