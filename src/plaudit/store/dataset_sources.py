"""What datasets are made from: spans with the feedback about them (DESIGN §7 `from_feedback`,
`from_trace`), read in bulk so 100,000 matching events become examples in seconds."""

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from sqlalchemy import Connection, and_, select

from plaudit.core.dataset_mapping import SpanFacts
from plaudit.core.query.model import Filter
from plaudit.store.bulk import rows_in
from plaudit.store.feedback import row_to_event
from plaudit.store.schema import feedback, span_enrichments, spans, trace_enrichments
from plaudit.store.sql_aggregate import Window
from plaudit.store.sql_query import Compiler, event_micros


def matching_events(
    connection: Connection,
    project: str,
    filters: Sequence[Filter],
    window: Window,
    received_after: int | None = None,
) -> Any:
    """A SELECT of the feedback rows of `project` on a trace matching `filters` in `window`
    (and received after `received_after` micros, when given)."""
    compiler = Compiler(connection.dialect.name)
    conditions = [feedback.c.project == project, feedback.c.trace_id.is_not(None)]
    conditions += [compiler.condition(f) for f in filters]
    if window.since is not None:
        conditions.append(event_micros >= window.since)
    if window.until is not None:
        conditions.append(event_micros < window.until)
    if received_after is not None:
        conditions.append(feedback.c.received_at > received_after)
    source: Any = feedback
    if compiler.uses_spans:
        source = feedback.outerjoin(
            spans,
            and_(
                spans.c.project == feedback.c.project,
                spans.c.trace_id == feedback.c.trace_id,
                spans.c.span_id == feedback.c.span_id,
            ),
        )
    return select(*feedback.c).select_from(source).where(*conditions)


def _json(value: Any) -> Any:
    """A JSON column read without SQLAlchemy's processing: text on SQLite, decoded on PG."""
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def span_facts_for_feedback(
    connection: Connection,
    project: str,
    filters: Sequence[Filter],
    window: Window,
    limit: int | None,
    with_trace: bool,
) -> list[SpanFacts]:
    """One SpanFacts per span (oldest first) with feedback matching, holding all that matched."""
    query = matching_events(connection, project, filters, window).order_by(
        feedback.c.trace_id, feedback.c.span_id, feedback.c.timestamp, feedback.c.id
    )
    by_span: dict[tuple[str, str | None], SpanFacts] = {}
    for row in connection.execute(query).mappings():
        key = (row["trace_id"], row["span_id"])
        facts = by_span.get(key)
        if facts is None:
            if limit is not None and len(by_span) >= limit:
                break
            facts = SpanFacts(row["trace_id"], row["span_id"])
            facts.capability, facts.step = row["capability"], row["step"]
            by_span[key] = facts
        facts.feedback.append(row_to_event(row))
    found = list(by_span.values())
    _add_span_attributes(connection, project, found)
    if with_trace:
        _add_trace_attributes(connection, project, found)
    return found


def _add_span_attributes(connection: Connection, project: str, found: list[SpanFacts]) -> None:
    span_ids = [f.span_id for f in found if f.span_id]
    columns = ("trace_id", "span_id", "attributes", "capability", "step")
    stored = {
        (trace_id, span_id): (_json(attributes), capability, step)
        for trace_id, span_id, attributes, capability, step in rows_in(
            connection, spans, columns, project, "span_id", span_ids
        )
    }
    extra = {
        span_id: _json(attributes) or {}
        for span_id, attributes in rows_in(
            connection, span_enrichments, ("span_id", "attributes"), project, "span_id", span_ids
        )
    }
    for facts in found:
        known = stored.get((facts.trace_id, facts.span_id))
        if known is not None:
            attributes, capability, step = known
            facts.attributes = {**attributes, **extra.get(facts.span_id or "", {})}
            facts.capability = facts.capability or capability
            facts.step = facts.step or step


def trace_attributes(
    connection: Connection, project: str, trace_ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Each trace's attributes: its root span's, with the trace's enrichment over them."""
    wanted = sorted(set(trace_ids))
    found: dict[str, dict[str, Any]] = {}
    columns = ("trace_id", "parent_span_id", "attributes")
    for trace_id, parent, attributes in rows_in(
        connection, spans, columns, project, "trace_id", wanted
    ):
        if parent is None:
            found[trace_id] = _json(attributes)
    for trace_id, attributes in rows_in(
        connection, trace_enrichments, ("trace_id", "attributes"), project, "trace_id", wanted
    ):
        found[trace_id] = {**found.get(trace_id, {}), **(_json(attributes) or {})}
    return found


def _add_trace_attributes(connection: Connection, project: str, found: list[SpanFacts]) -> None:
    by_trace = trace_attributes(connection, project, (f.trace_id for f in found))
    for facts in found:
        facts.trace_attributes = by_trace.get(facts.trace_id, {})


def span_facts_for_trace(
    connection: Connection, project: str, trace_id: str, span_id: str | None
) -> SpanFacts | None:
    """The facts of one span of a stored trace (its root span when `span_id` is None), with the
    feedback on it (with no span named: all the trace's feedback); None if not stored."""
    query = select(spans.c.span_id, spans.c.parent_span_id).where(
        spans.c.project == project, spans.c.trace_id == trace_id
    )
    stored = connection.execute(query.order_by(spans.c.start_time_ns)).all()
    chosen = span_id
    if chosen is None:
        roots = [s for s, parent in stored if parent is None] or [s for s, _ in stored]
        chosen = roots[0] if roots else None
    if chosen is None or chosen not in {s for s, _ in stored}:
        return None
    events = select(feedback).where(feedback.c.project == project, feedback.c.trace_id == trace_id)
    if span_id is not None:
        events = events.where(feedback.c.span_id == span_id)
    facts = SpanFacts(trace_id, chosen)
    facts.feedback = [
        row_to_event(row)
        for row in connection.execute(events.order_by(feedback.c.timestamp)).mappings()
    ]
    _add_span_attributes(connection, project, [facts])
    _add_trace_attributes(connection, project, [facts])
    return facts
