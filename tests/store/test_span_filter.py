"""`span_id = …` finds every event with that span id, though no index holds the span id of linked
events (migration 0014): through the pending index, the span's traces and its response id.

Events are written through the store as the API writes them, in each way an event comes to hold
a span id, and every filter's answer is compared with the span ids read back from the table.
"""

import secrets
from datetime import UTC, datetime

import msgspec
import pytest
from sqlalchemy import Connection, Engine, insert, select

from plaudit.analytics.run import run_query
from plaudit.core.privacy import PiiMode
from plaudit.core.query.params import listing_filters
from plaudit.core.query.text import parse_query
from plaudit.core.spans import SpanRecord
from plaudit.core.validation import validate_feedback
from plaudit.store.event_search import count_events, events_page
from plaudit.store.feedback import StoreFeedback
from plaudit.store.schema import feedback, spans
from plaudit.store.spans import LinkAllPending, StoreSpans
from plaudit.store.sql_aggregate import Window

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)
PROJECT = "span-filter"


def span(trace_id: str, span_id: str, response_id: str | None = None) -> SpanRecord:
    attributes = {} if response_id is None else {"gen_ai.response.id": response_id}
    return SpanRecord.build(
        trace_id=trace_id, span_id=span_id, name="chat", start_time_ns=1, end_time_ns=2,
        attributes=attributes,
    )  # fmt: skip


def send(engine: Engine, *targets: dict[str, str]) -> None:
    with engine.begin() as connection:
        store_feedback(connection, PROJECT, *targets)


def store_feedback(connection: Connection, project: str, *targets: dict[str, str]) -> list[str]:
    """A thumb event per target (its span id, response id, trace…), stored as the API stores it;
    their ids."""
    raws = [
        {"id": f"ev-{secrets.token_hex(6)}", "name": "helpful", "kind": "thumb", "value": 1,
         "timestamp": NOW.isoformat(), **target}
        for target in targets
    ]  # fmt: skip
    events = [validate_feedback(raw, pointer="", now=NOW, configs={}) for raw in raws]
    StoreFeedback(project, events, NOW, None, pii=PiiMode.REDACT).apply(connection)  # type: ignore[arg-type]
    return [str(raw["id"]) for raw in raws]


def store_spans(engine: Engine, *records: SpanRecord) -> None:
    with engine.begin() as connection:
        StoreSpans(PROJECT, records, NOW).apply(connection)


@pytest.fixture(scope="module")
def ids(engine: Engine) -> dict[str, str]:
    """Spans and events covering each way an event holds a span id, linked or pending."""
    t1, t2, t3, other = (secrets.token_hex(16) for _ in range(4))
    x, y, never = (secrets.token_hex(8) for _ in range(3))
    response = f"chatcmpl-{secrets.token_hex(6)}"
    store_spans(engine, span(t1, x, response), span(t3, y))
    send(
        engine,
        {"span_id": x},  # linked on arrival; its trace filled in
        {"span_id": x, "trace_id": t1},  # linked on arrival
        {"response_id": response},  # linked by its response id; span id filled in
        {"response_id": response, "trace_id": other},  # the same, under a trace of its own
        {"span_id": x, "trace_id": other},  # another trace's span x: pending
        {"span_id": never},  # pending
        {"span_id": y, "trace_id": t2},  # pending until y is stored in t2, below
        {"trace_id": t1},  # the trace alone: no span id
    )
    store_spans(engine, span(t2, y))  # links the event waiting for (t2, y)
    send(engine, {"span_id": y})  # y is in t2 and t3: linked to either
    with engine.begin() as connection:  # nothing left to link; start-up linking finds so
        assert LinkAllPending().apply(connection) == 0
    return {"x": x, "y": y, "never": never, "unknown": secrets.token_hex(8)}


def by_span_id(engine: Engine) -> dict[str, set[str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(feedback.c.span_id, feedback.c.id).where(feedback.c.project == PROJECT)
        ).all()
    found: dict[str, set[str]] = {}
    for span_id, event_id in rows:
        found.setdefault(span_id, set()).add(event_id)
    return found


@pytest.mark.parametrize("which", ["x", "y", "never", "unknown"])
def test_a_span_filter_finds_every_event_of_the_span(
    engine: Engine, ids: dict[str, str], which: str
) -> None:
    span_id = ids[which]
    wanted = by_span_id(engine).get(span_id, set())
    assert len(wanted) == {"x": 5, "y": 2, "never": 1, "unknown": 0}[which]
    filters = listing_filters([("span_id", span_id)])
    with engine.connect() as connection:
        page = events_page(connection, PROJECT, filters, Window(), None, 100, True)
        assert {row["id"] for row in page} == wanted
        assert count_events(connection, PROJECT, filters, Window()) == len(wanted)
        answer = run_query(connection, parse_query(f'count where span_id = "{span_id}"'), PROJECT)
        assert answer.rows == [[len(wanted)]]


def test_start_up_links_every_kind_of_waiting_event(engine: Engine) -> None:
    """Spans stored without linking (as a transaction that overlapped the events' own leaves
    them) are linked at start-up, whatever the events named: span, response id, trace or
    conversation."""
    project = f"startup-{secrets.token_hex(3)}"
    trace, span_id, other_span = secrets.token_hex(16), secrets.token_hex(8), secrets.token_hex(8)
    response, conversation = f"chatcmpl-{secrets.token_hex(6)}", f"conv-{secrets.token_hex(4)}"
    targets = [
        {"span_id": span_id},
        {"response_id": response},
        {"trace_id": trace},
        {"conversation_id": conversation},
        {"span_id": secrets.token_hex(8)},  # never stored: stays pending
    ]
    with engine.begin() as connection:
        event_ids = store_feedback(connection, project, *targets)
        # the second span carries the conversation and the response id
        rows = [
            {**msgspec.structs.asdict(span(trace, span_id)), "response_id": None},
            {**msgspec.structs.asdict(span(trace, other_span)), "response_id": response,
             "conversation_id": conversation},
        ]  # fmt: skip
        for row in rows:
            row.update(project=project, received_at=NOW)
        connection.execute(insert(spans), rows)
    with engine.begin() as connection:
        assert LinkAllPending().apply(connection) == 4
    with engine.connect() as connection:
        found = connection.execute(
            select(
                feedback.c.id, feedback.c.link_status, feedback.c.trace_id, feedback.c.span_id
            ).where(feedback.c.project == project)
        ).all()
    status = {row.id: (row.link_status, row.trace_id, row.span_id) for row in found}
    by_span, by_response, by_trace, by_conversation, never = event_ids
    assert status[by_span] == ("linked", trace, span_id)
    assert status[by_response] == ("linked", trace, other_span)
    assert status[by_trace] == ("linked", trace, None)
    assert status[by_conversation] == ("linked", None, None)
    assert status[never][0] == "pending"
