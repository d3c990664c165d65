"""Spans in the database: upsert from OTLP, linking of waiting feedback, the trace tree."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Self

from sqlalchemy import Connection, bindparam, func, select, update

from plaudit.core.feedback import LinkStatus
from plaudit.core.spans import SpanRecord
from plaudit.store import rollup_writes
from plaudit.store.bulk import CHUNK, insert_rows
from plaudit.store.feedback import row_to_event
from plaudit.store.links import KnownTargets, SpanFacts, known_targets
from plaudit.store.schema import (
    feedback,
    span_enrichments,
    spans,
    to_micros,
    trace_enrichments,
)
from plaudit.store.span_messages import add_logged_messages
from plaudit.store.writer import WriteOp

_SPAN_COLUMNS = (
    "trace_id", "span_id", "parent_span_id", "name", "kind", "start_time_ns", "end_time_ns",
    "status_code", "status_message", "attributes", "events", "links", "resource", "scope",
    "capability", "step", "conversation_id", "user_id",
)  # fmt: skip


class StoreSpans(WriteOp[int]):
    """Store (or replace) spans of one project and link the feedback that waited for them."""

    def __init__(self, project: str, records: Sequence[SpanRecord], received_at: datetime) -> None:
        self.project = project
        self.records = records
        self.received_at = received_at

    def weight(self) -> int:
        return max(1, len(self.records))

    def apply(self, connection: Connection) -> int:
        return self.apply_group(connection, [self])[0]

    @classmethod
    def apply_group(cls, connection: Connection, ops: Sequence[Self]) -> list[int]:
        rows = {}
        for op in ops:
            received = to_micros(op.received_at)
            for record in op.records:
                row = {column: getattr(record, column) for column in _SPAN_COLUMNS}
                row["project"] = op.project
                row["received_at"] = received
                row["response_id"] = response_id(record.attributes)
                rows[(op.project, record.trace_id, record.span_id)] = row
        if rows:
            insert_rows(connection, spans, list(rows.values()), ("project", "trace_id", "span_id"))
            for project in {op.project for op in ops}:
                link_waiting_feedback(
                    connection, project, [r for r in rows.values() if r["project"] == project]
                )
        return [len(op.records) for op in ops]


RESPONSE_ID_ATTRIBUTE = "gen_ai.response.id"


def response_id(attributes: dict[str, Any]) -> str | None:
    """The provider's response id a span carries, which feedback may name as its target."""
    value = attributes.get(RESPONSE_ID_ATTRIBUTE)
    return value[:256] if isinstance(value, str) and value else None


def _pending(
    connection: Connection, project: str, column: Any, values: Iterable[str], *extra: Any
) -> list[Any]:
    found: list[Any] = []
    items = sorted(set(values))
    for start in range(0, len(items), CHUNK):
        query = select(
            feedback.c.id, feedback.c.trace_id, feedback.c.span_id, feedback.c.response_id
        ).where(
            feedback.c.project == project,
            feedback.c.link_status == LinkStatus.PENDING.value,
            column.in_(items[start : start + CHUNK]),
            *extra,
        )
        found.extend(connection.execute(query))
    return found


def link_waiting_feedback(
    connection: Connection, project: str, span_rows: Sequence[dict[str, Any]]
) -> int:
    """Mark pending feedback about these spans (or their traces, conversations or response
    ids) linked."""
    known = KnownTargets()
    for row in span_rows:
        facts = SpanFacts(row["trace_id"], row["capability"], row["step"])
        known.spans.setdefault(row["span_id"], []).append((row["trace_id"], facts))
        known.traces.add(row["trace_id"])
        if row["conversation_id"]:
            known.conversations.add(row["conversation_id"])
        if row.get("response_id"):
            known.responses[row["response_id"]] = SpanFacts(
                row["trace_id"], row["capability"], row["step"], row["span_id"]
            )
    return link_known(connection, project, known)


def link_known(connection: Connection, project: str, known: KnownTargets) -> int:
    """Mark pending feedback linked whose target is among `known` (most specific first: its
    span, else its response id, else its trace, else its conversation, as on arrival)."""
    changes = []
    for event_id, _, _, response in _pending(
        connection, project, feedback.c.response_id, known.responses, feedback.c.span_id.is_(None)
    ):
        facts = known.responses[response]
        changes.append(
            _link_change(event_id, facts.trace_id, facts.capability, facts.step, facts.span_id)
        )
    for event_id, trace_id, span_id, _ in _pending(
        connection, project, feedback.c.span_id, known.spans
    ):
        found = known.resolve(trace_id, span_id, None)
        if isinstance(found, SpanFacts):
            changes.append(_link_change(event_id, found.trace_id, found.capability, found.step))
    for event_id, *_ in _pending(
        connection,
        project,
        feedback.c.trace_id,
        known.traces,
        feedback.c.span_id.is_(None),
        feedback.c.response_id.is_(None),  # its span decides, not any span of its trace
    ):
        changes.append(_link_change(event_id, None, None, None))
    for event_id, *_ in _pending(
        connection,
        project,
        feedback.c.conversation_id,
        known.conversations,
        feedback.c.span_id.is_(None),
        feedback.c.trace_id.is_(None),
        feedback.c.response_id.is_(None),
    ):
        changes.append(_link_change(event_id, None, None, None))
    if changes:
        statement = (
            update(feedback)
            .where(feedback.c.project == project, feedback.c.id == bindparam("event_id"))
            .values(
                link_status=LinkStatus.LINKED.value,
                trace_id=func.coalesce(feedback.c.trace_id, bindparam("span_trace")),
                span_id=func.coalesce(feedback.c.span_id, bindparam("span_span")),
                capability=func.coalesce(feedback.c.capability, bindparam("span_capability")),
                step=func.coalesce(feedback.c.step, bindparam("span_step")),
            )
        )
        linked = [change["event_id"] for change in changes]
        rollup_writes.remove(connection, project, linked)
        connection.execute(statement, changes)
        rollup_writes.add(connection, project, linked)
    return len(changes)


def _link_change(
    event_id: str,
    trace_id: str | None,
    capability: str | None,
    step: str | None,
    span_id: str | None = None,
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "span_span": span_id,
        "span_trace": trace_id,
        "span_capability": capability,
        "span_step": step,
    }


class LinkAllPending(WriteOp[int]):
    """Link every pending event whose target — span, response, trace or conversation — is stored
    (run at start-up: a span stored by a transaction that overlapped the event's own, as two
    servers on one PostgreSQL database can, left the event waiting)."""

    def apply(self, connection: Connection) -> int:
        projects = connection.scalars(
            select(feedback.c.project)
            .where(feedback.c.link_status == LinkStatus.PENDING.value)
            .distinct()
        ).all()
        return sum(_link_pending_of(connection, project) for project in projects)


def _link_pending_of(connection: Connection, project: str) -> int:
    targets = connection.execute(
        select(
            feedback.c.span_id,
            feedback.c.response_id,
            feedback.c.trace_id,
            feedback.c.conversation_id,
        )
        .where(
            feedback.c.project == project,
            feedback.c.link_status == LinkStatus.PENDING.value,
        )
        .distinct()
    ).all()
    # The most specific target an event names is the one it waits for (as on arrival).
    known = known_targets(
        connection,
        project,
        (span for span, *_ in targets if span),
        (trace for span, response, trace, _ in targets if trace and not (span or response)),
        (c for span, response, trace, c in targets if c and not (span or response or trace)),
        (response for span, response, *_ in targets if response and not span),
    )
    return link_known(connection, project, known)


def get_trace(connection: Connection, project: str, trace_id: str) -> dict[str, Any] | None:
    """The trace as a tree of spans, each with its enrichment and the feedback about it."""
    rows = (
        connection.execute(
            select(spans)
            .where(spans.c.project == project, spans.c.trace_id == trace_id)
            .order_by(spans.c.start_time_ns)
        )
        .mappings()
        .all()
    )
    if not rows:
        return None
    events = (
        connection.execute(
            select(feedback)
            .where(feedback.c.project == project, feedback.c.trace_id == trace_id)
            .order_by(feedback.c.timestamp)
        )
        .mappings()
        .all()
    )
    enrichments = {
        row["span_id"]: row
        for row in connection.execute(
            select(span_enrichments).where(
                span_enrichments.c.project == project,
                span_enrichments.c.span_id.in_([row["span_id"] for row in rows]),
            )
        ).mappings()
    }
    trace_extra = (
        connection.execute(
            select(trace_enrichments).where(
                trace_enrichments.c.project == project, trace_enrichments.c.trace_id == trace_id
            )
        )
        .mappings()
        .first()
    )
    tree = _tree(trace_id, rows, events, enrichments, trace_extra)
    add_logged_messages(connection, project, trace_id, tree["spans"])
    return tree


def _span_json(row: Any, enrichment: Any) -> dict[str, Any]:
    span = {column: row[column] for column in _SPAN_COLUMNS}
    span["duration_ms"] = (row["end_time_ns"] - row["start_time_ns"]) / 1_000_000
    span["tags"] = []
    span["enrichment"] = None
    if enrichment is not None:
        span["attributes"] = {**span["attributes"], **(enrichment["attributes"] or {})}
        span["tags"] = enrichment["tags"] or []
        span["enrichment"] = enrichment["feedback"]
    span["feedback"] = []
    span["children"] = []
    return span


def _tree(
    trace_id: str,
    rows: Sequence[Any],
    events: Sequence[Any],
    enrichments: dict[str, Any],
    trace_extra: Any,
) -> dict[str, Any]:
    by_id = {row["span_id"]: _span_json(row, enrichments.get(row["span_id"])) for row in rows}
    roots: list[dict[str, Any]] = []
    for span in by_id.values():
        parent = by_id.get(span["parent_span_id"] or "")
        (parent["children"] if parent is not None else roots).append(span)
    trace_feedback: list[dict[str, Any]] = []
    for row in events:
        owner = by_id.get(row["span_id"] or "")
        (owner["feedback"] if owner is not None else trace_feedback).append(row_to_event(row))
    return {
        "trace_id": trace_id,
        "spans": roots,
        "feedback": trace_feedback,
        "attributes": (trace_extra["attributes"] if trace_extra else None) or {},
        "tags": (trace_extra["tags"] if trace_extra else None) or [],
        "enrichment": trace_extra["feedback"] if trace_extra else None,
    }
