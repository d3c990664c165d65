"""Queues that fill themselves: every span with feedback matching a queue's filter becomes one
item, now and as new feedback arrives.

`QueueFiller` is a thread of the server. A few times a second, when the writer has committed
something since its last look (or every few seconds, for writes by other processes such as the
CLI), it runs one `FillQueues` op in the writer: for each filling queue, the feedback received
since the queue's mark (less a margin, since `received_at` is set before the write is queued)
that matches the filter is read through `ix_feedback_received`, and its spans are queued once.
"""

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Connection, Engine

from plaudit.core.dataset_mapping import SpanFacts, map_span
from plaudit.core.datasets import span_example_id
from plaudit.core.query.text import parse_filters
from plaudit.loop.datasets import Prepared, store_prepared, window_of
from plaudit.store.annotation_queues import (
    ItemTarget,
    add_items,
    fill_queues,
    set_fill_mark,
    unqueued,
)
from plaudit.store.dataset_sources import matching_events, span_facts_for_trace
from plaudit.store.schema import feedback, to_micros
from plaudit.store.writer import WriteOp, Writer

log = logging.getLogger(__name__)

# Feedback is stamped `received_at` before it waits in the write queue; reading this far behind
# the mark catches events that committed after a later-stamped one.
MARGIN_MICROS: Final = 2_000_000
SWEEP_SECONDS: Final = 0.2
IDLE_SWEEP_SECONDS: Final = 5.0


def fill_queue(connection: Connection, row: Any, now: datetime) -> int:
    """Queue the spans of feedback matching one queue's fill since its mark; how many."""
    fill = row["fill"]
    filters = parse_filters(fill["query"])
    window = window_of(fill.get("since"), None, "/fill", now)
    mark = row["fill_mark"]
    after = None if mark is None else mark - MARGIN_MICROS
    # Up to `now`, the new mark: what was received later is read by the next sweep.
    until = None if after is None else to_micros(now)
    query = matching_events(
        connection, row["project"], filters, window, after, until
    ).with_only_columns(feedback.c.trace_id, feedback.c.span_id)
    # Made distinct here: DISTINCT in SQL led SQLite to read the project in trace order (through
    # `(project, trace_id)`) rather than the few events received since the mark.
    found = connection.execute(query).all()
    spans = list(dict.fromkeys((trace_id, span_id) for trace_id, span_id in found))
    dataset = fill.get("dataset")
    if dataset is None:
        targets = [ItemTarget(trace_id, span_id) for trace_id, span_id in spans]
    else:
        targets = _dataset_targets(connection, row, dataset, spans, now)
    added = add_items(connection, row["project"], row["name"], targets, now)
    set_fill_mark(connection, row["project"], row["name"], to_micros(now))
    return len(added)


def _dataset_targets(
    connection: Connection,
    row: Any,
    dataset: str,
    spans: list[tuple[str, str | None]],
    now: datetime,
) -> list[ItemTarget]:
    """With `fill.dataset`, each newly matched span is first added to the dataset (default
    mapping), and the item is that dataset row, so completing it fills the row."""
    project = row["project"]
    targets = [ItemTarget(t, s, dataset, span_example_id(t, s)) for t, s in spans]
    found = [
        span_facts_for_trace(connection, project, t.trace_id or "", t.span_id)
        or SpanFacts(t.trace_id or "", t.span_id)
        for t in unqueued(connection, project, row["name"], targets)
    ]
    examples = [map_span(facts, {}) for facts in found]
    if examples:
        store_prepared(connection, project, dataset, Prepared(examples, from_spans=True), now)
    return [
        ItemTarget(facts.trace_id, facts.span_id, dataset, example.id)
        for facts, example in zip(found, examples, strict=True)
    ]


class FillQueues(WriteOp[int]):
    """One sweep over every filling queue; how many items it added."""

    def apply(self, connection: Connection) -> int:
        now = datetime.now(UTC)
        added = 0
        for row in fill_queues(connection):
            try:
                added += fill_queue(connection, row, now)
            except Exception:  # one broken filter must not stop the other queues filling
                log.exception("filling queue %s/%s failed", row["project"], row["name"])
        return added


class QueueFiller:
    """The server's fill thread (see the module docstring)."""

    def __init__(self, engine: Engine, writer: Writer) -> None:
        self._engine = engine
        self._writer = writer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="plaudit-queue-fill", daemon=True)

    def start(self) -> None:
        """Start sweeping."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sweeping (before the writer stops)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        seen = -1
        last = 0.0
        while not self._stop.wait(SWEEP_SECONDS):
            committed = self._writer.ops_committed
            if committed == seen and time.monotonic() - last < IDLE_SWEEP_SECONDS:
                continue
            try:
                self._writer.write_sync(FillQueues())
            except Exception:
                log.exception("queue fill sweep failed")
            seen = self._writer.ops_committed
            last = time.monotonic()
