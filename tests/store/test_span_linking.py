"""Storing spans: the rows written, and the feedback that waited for them, on both stores.

Linking has two ways to find the waiting events (`link_waiting_feedback`): read all of the
project's pending events and match them in Python when few wait, or look each stored target up
when many do. They must link exactly the same events in exactly the same way, so the property
test runs both on the same random histories, side by side in two projects, and compares every
feedback column and both rollups.
"""

import secrets
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, insert, select

from plaudit.core.privacy import PiiMode
from plaudit.core.spans import SpanRecord
from plaudit.core.validation import validate_feedback
from plaudit.store.feedback import StoreFeedback
from plaudit.store.schema import feedback, feedback_metadata_rollup, feedback_rollup, spans
from plaudit.store.spans import PENDING_SCAN, StoreSpans, link_waiting_feedback

NOW = datetime(2026, 3, 30, 12, tzinfo=UTC)

# Spans the histories draw from: some in a conversation, some with a response id, two sharing
# a span id in different traces (span ids are unique per trace only).
POOL: list[dict[str, Any]] = [
    {"trace_id": f"{1:032x}", "span_id": f"{1:016x}", "capability": "cap", "step": "s",
     "conversation_id": "conv-1", "response_id": "chatcmpl-1"},
    {"trace_id": f"{1:032x}", "span_id": f"{2:016x}", "capability": None, "step": None,
     "conversation_id": None, "response_id": None},
    {"trace_id": f"{2:032x}", "span_id": f"{2:016x}", "capability": "other", "step": None,
     "conversation_id": "conv-2", "response_id": "chatcmpl-2"},
    {"trace_id": f"{3:032x}", "span_id": f"{3:016x}", "capability": None, "step": "t",
     "conversation_id": None, "response_id": "chatcmpl-3"},
]  # fmt: skip
TRACES = [*sorted({span["trace_id"] for span in POOL}), f"{9:032x}"]
SPAN_IDS = [*sorted({span["span_id"] for span in POOL}), f"{9:016x}"]
CONVERSATIONS = ["conv-1", "conv-2", "conv-9"]
RESPONSES = ["chatcmpl-1", "chatcmpl-2", "chatcmpl-3", "chatcmpl-9"]


@st.composite
def waiting_event(draw: Any, number: int) -> dict[str, Any]:
    """A feedback event naming any combination of targets, stored or not."""
    targets = {
        "span_id": draw(st.sampled_from([None, *SPAN_IDS])),
        "trace_id": draw(st.sampled_from([None, *TRACES])),
        "conversation_id": draw(st.sampled_from([None, None, *CONVERSATIONS])),
        "response_id": draw(st.sampled_from([None, None, *RESPONSES])),
    }
    if all(value is None for value in targets.values()):
        targets["trace_id"] = TRACES[0]
    value = draw(st.sampled_from([1, -1]))
    return {"id": f"e{number}", "name": "rq", "value": value, "metadata": {"n": number % 3},
            **{key: value for key, value in targets.items() if value is not None}}  # fmt: skip


@st.composite
def histories(draw: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events stored while no span is, spans stored afterwards)."""
    count = draw(st.integers(1, 12))
    events = [draw(waiting_event(n)) for n in range(count)]
    stored = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=4, unique_by=str))
    return events, stored


def _store_waiting(connection: Connection, project: str, events: list[dict[str, Any]]) -> None:
    validated = []
    for raw in events:
        event = validate_feedback(raw, pointer="", now=NOW, configs={})
        assert not isinstance(event, list), event
        validated.append(event)
    StoreFeedback(project, validated, NOW, None, pii=PiiMode.REDACT).apply(connection)


def _span_row(project: str, facts: dict[str, Any]) -> dict[str, Any]:
    return {
        "project": project, "parent_span_id": None, "name": "chat", "kind": "internal",
        "start_time_ns": 1, "end_time_ns": 2, "status_code": "unset", "status_message": "",
        "attributes": {}, "events": [], "links": [], "resource": {}, "scope": {},
        "user_id": None, "received_at": NOW, **facts,
    }  # fmt: skip


def _snapshot(connection: Connection, project: str) -> list[list[Any]]:
    """Every feedback column and rollup row of `project`, the project's name left out."""
    tables = [feedback, feedback_rollup, feedback_metadata_rollup]
    found = []
    for table in tables:
        columns = [c for c in table.c if c.name not in ("project", "seq")]
        rows = connection.execute(select(*columns).where(table.c.project == project)).all()
        found.append(sorted((tuple(row) for row in rows), key=repr))
    return found


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=histories())
def test_reading_every_waiting_event_links_as_looking_each_target_up(
    engine: Engine, history: tuple[list[dict[str, Any]], list[dict[str, Any]]]
) -> None:
    events, stored = history
    scanned, looked_up = f"s{secrets.token_hex(5)}", f"l{secrets.token_hex(5)}"
    linked = {}
    with engine.begin() as connection:
        for project, scan_limit in ((scanned, 10_000), (looked_up, 0)):
            _store_waiting(connection, project, events)
            rows = [_span_row(project, facts) for facts in stored]
            connection.execute(insert(spans), rows)
            linked[project] = link_waiting_feedback(connection, project, rows, scan_limit)
    assert linked[scanned] == linked[looked_up]
    with engine.connect() as connection:
        assert _snapshot(connection, scanned) == _snapshot(connection, looked_up)
        statuses = connection.scalars(
            select(feedback.c.link_status).where(feedback.c.project == scanned)
        ).all()
    assert statuses.count("linked") == linked[scanned]  # the comparison compared something


def _record(number: int, **fields: Any) -> SpanRecord:
    return SpanRecord.build(
        trace_id=f"{number:032x}", span_id=f"{number:016x}", name=f"span {number}",
        start_time_ns=number, end_time_ns=number + 1, **fields,
    )  # fmt: skip


def test_storing_spans_links_also_when_more_events_wait_than_are_read_whole(
    engine: Engine,
) -> None:
    """Past the scan's limit, linking looks each target up: the events still link."""
    project = f"p{secrets.token_hex(5)}"
    never = [
        {"id": f"never{n}", "name": "rq", "value": 1, "span_id": f"{n + 10_000:016x}"}
        for n in range(PENDING_SCAN + 1)
    ]
    mine = [
        {"id": "by-span", "name": "rq", "value": 1, "span_id": f"{1:016x}"},
        {"id": "by-trace", "name": "rq", "value": -1, "trace_id": f"{2:032x}"},
        {"id": "by-response", "name": "rq", "value": 1, "response_id": "chatcmpl-3"},
    ]
    with engine.begin() as connection:
        _store_waiting(connection, project, never + mine)
    records = [
        _record(1, attributes={"plaudit.capability": "cap"}),
        _record(2),
        _record(3, attributes={"gen_ai.response.id": "chatcmpl-3"}),
    ]
    with engine.begin() as connection:
        assert StoreSpans(project, records, NOW).apply(connection) == 3
        rows = connection.execute(
            select(feedback.c.id, feedback.c.link_status, feedback.c.span_id, feedback.c.capability)
            .where(feedback.c.project == project, feedback.c.link_status == "linked")
            .order_by(feedback.c.id)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("by-response", "linked", f"{3:016x}", None),
        ("by-span", "linked", f"{1:016x}", "cap"),
        ("by-trace", "linked", None, None),
    ]


def test_span_rows_hold_each_field_as_given(engine: Engine, dialect: str) -> None:
    """The JSON columns hold the record's own values (an export's shared resource and scope
    included), and a span sent twice in one group is stored as sent last."""
    project = f"p{secrets.token_hex(5)}"
    resource = {"service.name": "bot", "n": 1}
    scope = {"name": "tests", "version": "1"}
    event = {"name": "e", "time_unix_nano": 5, "attributes": {"k": [1, "x", None, 2.5]}}
    link = {"trace_id": f"{8:032x}", "span_id": f"{8:016x}", "attributes": {}}
    first = [
        _record(1, attributes={"a": "é", "b": {"c": True}}, resource=resource, scope=scope),
        _record(2, events=[event], links=[link], resource=resource, scope=scope),
        _record(3, attributes={"old": 1}, resource={"other": "r"}),
    ]
    again = [_record(3, attributes={"new": 2}, resource=resource, scope=scope)]
    with engine.begin() as connection:
        StoreSpans.apply_group(
            connection, [StoreSpans(project, first, NOW), StoreSpans(project, again, NOW)]
        )
        columns = ("attributes", "events", "links", "resource", "scope")
        stored = connection.execute(
            select(spans.c.span_id, *(spans.c[c] for c in columns), spans.c.received_at)
            .where(spans.c.project == project)
            .order_by(spans.c.span_id)
        ).all()
        if dialect == "sqlite":  # the text itself, as every other JSON column is written
            texts = connection.exec_driver_sql(
                "SELECT attributes, events, resource FROM spans WHERE project = ? ORDER BY span_id",
                (project,),
            ).all()
            assert [tuple(row) for row in texts] == [
                (msgspec.json.encode(r.attributes).decode(), msgspec.json.encode(r.events).decode(),
                 msgspec.json.encode(r.resource).decode())
                for r in [first[0], first[1], again[0]]
            ]  # fmt: skip
    want = [first[0], first[1], again[0]]
    assert [row[0] for row in stored] == [r.span_id for r in want]
    for row, record in zip(stored, want, strict=True):
        assert tuple(row[1:6]) == tuple(getattr(record, c) for c in columns)
        assert row[6] == NOW


@pytest.mark.parametrize("count", [0, 1])
def test_the_empty_lists_are_stored_as_lists(engine: Engine, count: int) -> None:
    project = f"p{secrets.token_hex(5)}"
    event = {"name": "e", "time_unix_nano": 5, "attributes": {}}
    with engine.begin() as connection:
        StoreSpans(project, [_record(1, events=[event] * count)], NOW).apply(connection)
        row = connection.execute(
            select(spans.c.events, spans.c.links).where(spans.c.project == project)
        ).one()
    assert tuple(row) == ([event] * count, [])
