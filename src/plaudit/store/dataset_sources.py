"""What datasets are made from: spans with the feedback about them (a dataset's `from_feedback`
and `from_trace`), read in bulk so 100,000 matching events become examples in seconds."""

from collections.abc import Iterable, Sequence
from typing import Any, Final

import msgspec
from sqlalchemy import BigInteger, Connection, Text, cast, select, type_coerce

from plaudit.core.dataset_mapping import SpanFacts
from plaudit.core.query.model import Filter
from plaudit.store.bulk import rows_in
from plaudit.store.feedback import row_to_event
from plaudit.store.schema import feedback, span_enrichments, spans, trace_enrichments
from plaudit.store.span_messages import logged_messages, with_logged
from plaudit.store.sql_aggregate import Window
from plaudit.store.sql_query import Compiler, event_micros, on_a_trace


def matching_events(
    connection: Connection,
    project: str,
    filters: Sequence[Filter],
    window: Window,
    received_after: int | None = None,
    received_until: int | None = None,
) -> Any:
    """A SELECT of the feedback rows of `project` on a trace matching `filters` in `window`
    (and received after `received_after` and up to `received_until` micros, when given)."""
    compiler = Compiler(connection.dialect.name, project=project)
    conditions = [feedback.c.project == project, on_a_trace(compiler.dialect)]
    conditions += [compiler.condition(f) for f in filters]
    if window.since is not None:
        conditions.append(event_micros >= window.since)
    if window.until is not None:
        conditions.append(event_micros < window.until)
    if received_after is not None:
        conditions.append(feedback.c.received_at > received_after)
    if received_until is not None:
        # Bounded on both sides, SQLite reckons the `received_at` range narrow enough to read
        # it rather than all the project's events of a name or capability the filters ask for.
        conditions.append(feedback.c.received_at <= received_until)
    source = compiler.source()
    return select(*feedback.c).select_from(source).where(*conditions)


def _json(value: Any) -> Any:
    """A JSON column read without SQLAlchemy's processing: text on SQLite, decoded on PG."""
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


# What an example may take from each event (`feedback.<field>` in a mapping). The default mapping
# needs only the first columns; the rest are read when a mapping names them. JSON columns are read
# as text and decoded with msgspec: that is what makes 100,000 events quick to read.
_DEFAULT_COLUMNS: Final = (
    "id", "name", "kind", "value", "comment", "expected", "user_id", "capability", "step",
)  # fmt: skip
_MORE_COLUMNS: Final = ("scores", "source", "metadata", "tags", "signal_type", "conversation_id")
_JSON_COLUMNS: Final = frozenset({"value", "expected", "scores", "metadata", "tags"})


def _event_columns(names: tuple[str, ...]) -> list[Any]:
    return [
        feedback.c.trace_id,
        feedback.c.span_id,
        type_coerce(feedback.c.timestamp, BigInteger),
        *(cast(feedback.c[c], Text) if c in _JSON_COLUMNS else feedback.c[c] for c in names),
    ]


def span_facts_for_feedback(
    connection: Connection,
    project: str,
    filters: Sequence[Filter],
    window: Window,
    limit: int | None,
    fields: frozenset[str] = frozenset(),
) -> list[SpanFacts]:
    """One SpanFacts per span with feedback matching (spans in id order, their events oldest
    first), holding every event that matched; `fields` are the roots a mapping reads beyond the
    default (`span`, `trace`, or a feedback field such as `metadata`)."""
    names = _DEFAULT_COLUMNS + (_MORE_COLUMNS if fields - {"span", "trace"} else ())
    json_at = [i for i, name in enumerate(names) if name in _JSON_COLUMNS]
    query = matching_events(connection, project, filters, window)
    by_span: dict[tuple[str, str | None], list[tuple[int, str, dict[str, Any]]]] = {}
    for trace_id, span_id, at, *values in connection.execute(
        query.with_only_columns(*_event_columns(names))
    ).all():
        for i in json_at:
            if values[i] is not None:
                values[i] = msgspec.json.decode(values[i])
        event = dict(zip(names, values, strict=True))
        by_span.setdefault((trace_id, span_id), []).append((at, values[0], event))
    found = [_facts(key, by_span[key]) for key in sorted(by_span, key=_span_order)[:limit]]
    _add_span_attributes(connection, project, found)
    if "trace" in fields:
        _add_trace_attributes(connection, project, found)
    return found


def _span_order(key: tuple[str, str | None]) -> tuple[str, str]:
    return key[0], key[1] or ""


def _facts(key: tuple[str, str | None], events: list[tuple[int, str, dict[str, Any]]]) -> SpanFacts:
    events.sort(key=lambda e: (e[0], e[1]))
    last = events[-1][2]
    facts = SpanFacts(key[0], key[1], feedback=[e for _, _, e in events])
    facts.capability, facts.step = last["capability"], last["step"]
    return facts


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
    logged = logged_messages(connection, project, "span_id", span_ids)
    for facts in found:
        known = stored.get((facts.trace_id, facts.span_id))
        if known is not None:
            attributes, capability, step = known
            merged = {**attributes, **extra.get(facts.span_id or "", {})}
            facts.attributes = with_logged(merged, logged.get(facts.span_id or ""))
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
