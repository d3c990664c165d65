"""Spans in the database: upsert from OTLP, linking of waiting feedback, the trace tree."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final, Self

import msgspec
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
_SPAN_KEY = ("project", "trace_id", "span_id")
_encode = msgspec.json.Encoder().encode  # as `bulk.json_text`, which the other writes use
_NO_ITEMS = _encode([]).decode()


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
        rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        for op in ops:
            _add_rows(rows, op.project, op.records, to_micros(op.received_at))
        if rows:
            insert_rows(connection, spans, list(rows.values()), _SPAN_KEY, encoded=True)
            for project in {op.project for op in ops}:
                link_waiting_feedback(
                    connection, project, [r for r in rows.values() if r["project"] == project]
                )
        return [len(op.records) for op in ops]


def _add_rows(
    rows: dict[tuple[str, str, str], dict[str, Any]],
    project: str,
    records: Sequence[SpanRecord],
    received: int,
) -> None:
    """Add a row per record to `rows`, JSON columns already encoded (`insert_rows(encoded=True)`);
    a later record of the same span replaces an earlier one.

    Written as one loop because it runs for every stored span: the `resource` and `scope` dicts
    are usually shared by all spans of an export (`SpanRecord`), so each is encoded once, and
    spans without events or links share one encoding of the empty list.
    """
    encode = _encode
    shared: dict[int, str] = {}  # id() of a shared dict → its JSON; all of them outlive the loop
    for record in records:
        resource = record.resource
        resource_json = shared.get(id(resource))
        if resource_json is None:
            resource_json = shared[id(resource)] = encode(resource).decode()
        scope = record.scope
        scope_json = shared.get(id(scope))
        if scope_json is None:
            scope_json = shared[id(scope)] = encode(scope).decode()
        attributes = record.attributes
        events = record.events
        links = record.links
        trace_id = record.trace_id
        span_id = record.span_id
        # keys in _SPAN_COLUMNS order, then the three of the store: the insert's column order
        rows[(project, trace_id, span_id)] = {
            "trace_id": trace_id,
            "span_id": span_id,
            "parent_span_id": record.parent_span_id,
            "name": record.name,
            "kind": record.kind,
            "start_time_ns": record.start_time_ns,
            "end_time_ns": record.end_time_ns,
            "status_code": record.status_code,
            "status_message": record.status_message,
            "attributes": encode(attributes).decode(),
            "events": encode(events).decode() if events else _NO_ITEMS,
            "links": encode(links).decode() if links else _NO_ITEMS,
            "resource": resource_json,
            "scope": scope_json,
            "capability": record.capability,
            "step": record.step,
            "conversation_id": record.conversation_id,
            "user_id": record.user_id,
            "project": project,
            "received_at": received,
            "response_id": response_id(attributes),
        }


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


PENDING_SCAN: Final = 100
"""Linking reads the project's waiting feedback whole when there are no more than this many
events, or as many as the spans stored, waiting (see `link_waiting_feedback`)."""


def link_waiting_feedback(
    connection: Connection,
    project: str,
    span_rows: Sequence[dict[str, Any]],
    scan_limit: int | None = None,
) -> int:
    """Mark pending feedback about these spans (or their traces, conversations or response
    ids) linked.

    Usually little or no feedback waits: then reading all of the project's waiting events (a
    range of the partial index `ix_feedback_pending`) and matching them here costs less than
    looking up every span, trace, conversation and response id stored. Only when more than
    `scan_limit` (by default `PENDING_SCAN`, or the number of spans if larger) wait does it
    look the targets up instead.
    """
    limit = max(PENDING_SCAN, len(span_rows)) if scan_limit is None else scan_limit
    waiting = _all_waiting(connection, project, limit)
    if waiting is not None and not waiting:
        return 0  # the common case: nothing waits, so there is nothing to match
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
    if waiting is None:
        return link_known(connection, project, known)
    return _link(connection, project, _waiting_for(known, waiting))


_WAITING_COLUMNS = (
    feedback.c.id,
    feedback.c.trace_id,
    feedback.c.span_id,
    feedback.c.response_id,
    feedback.c.conversation_id,
)


def _all_waiting(connection: Connection, project: str, limit: int) -> Sequence[Any] | None:
    """Every pending event of `project` (id and targets), or None if more than `limit` wait."""
    found = connection.execute(
        select(*_WAITING_COLUMNS)
        .where(feedback.c.project == project, feedback.c.link_status == LinkStatus.PENDING.value)
        .limit(limit + 1)
    ).all()
    return None if len(found) > limit else found


def _waiting_for(known: KnownTargets, waiting: Iterable[Any]) -> list[dict[str, Any]]:
    """The link changes of the `waiting` events whose targets are `known`: `link_known`'s four
    lookups, applied to rows in hand (each event matches at most one of them)."""
    by_response, by_span, by_trace, by_conversation = [], [], [], []
    for event_id, trace_id, span_id, response, conversation in waiting:
        if span_id is not None:
            if span_id in known.spans:
                found = known.resolve(trace_id, span_id, None)
                if isinstance(found, SpanFacts):
                    by_span.append(
                        _link_change(event_id, found.trace_id, found.capability, found.step)
                    )
        elif response is not None:
            facts = known.responses.get(response)
            if facts is not None:
                by_response.append(
                    _link_change(
                        event_id, facts.trace_id, facts.capability, facts.step, facts.span_id
                    )
                )
        elif trace_id is not None:
            if trace_id in known.traces:
                by_trace.append(_link_change(event_id, None, None, None))
        elif conversation is not None and conversation in known.conversations:
            by_conversation.append(_link_change(event_id, None, None, None))
    return by_response + by_span + by_trace + by_conversation


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
    return _link(connection, project, changes)


def _link(connection: Connection, project: str, changes: list[dict[str, Any]]) -> int:
    """Apply link changes (`_link_change`) to their events and to the rollups."""
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
