"""Reading events and traces by query filters: keyset pages for lists and exports, trace search.

Both use the compilers of `sql_query`, so a filter means the same in `POST /v1/query`, in
`plaudit feedback export --where …` and in `GET /v1/traces?q=…`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Connection,
    Select,
    Text,
    and_,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy import type_coerce as coerce

from plaudit.core.genai import MESSAGE_ATTRIBUTE_PREFIXES, MESSAGE_ATTRIBUTES
from plaudit.core.query.fields import MESSAGES, VALUE
from plaudit.core.query.model import Filter
from plaudit.store.feedback import EVENT_FIELDS
from plaudit.store.schema import UtcMicros, feedback, span_messages, spans
from plaudit.store.sql_aggregate import Window
from plaudit.store.sql_query import Compiler, event_micros, on_a_trace

Position = tuple[int, str]
"""(timestamp or time key in micros, id): where a keyset page ends."""


def _matching(
    compiler: Compiler, project: str, filters: Sequence[Filter], window: Window
) -> list[Any]:
    """The WHERE conditions of events of `project` matching `filters` within `window`."""
    conditions = [feedback.c.project == project, *(compiler.condition(f) for f in filters)]
    if window.since is not None:
        conditions.append(event_micros >= window.since)
    if window.until is not None:
        conditions.append(event_micros < window.until)
    return conditions


def events_page(
    connection: Connection,
    project: str,
    filters: Sequence[Filter],
    window: Window,
    after: Position | None,
    limit: int,
    newest_first: bool = False,
    raw: bool = False,
) -> list[Any]:
    """Up to `limit` events (row mappings) in (timestamp, id) order, after `after`.

    `raw` gives plain rows of the API's fields (`EVENT_FIELDS`, in order), times as micros and,
    on SQLite, JSON columns as their stored text, for `raw_rows_to_events`: exports copy them
    out instead of decoding and encoding them again.
    """
    compiler = Compiler(connection.dialect.name, project=project)
    conditions = _matching(compiler, project, filters, window)
    if after is not None:
        conditions += _after(after, newest_first)
    order = (
        [feedback.c.timestamp.desc(), feedback.c.id.desc()]
        if newest_first
        else [feedback.c.timestamp, feedback.c.id]
    )
    columns = _raw_columns(connection.dialect.name) if raw else list(feedback.c)
    statement = select(*columns).select_from(compiler.source()).where(*conditions).order_by(*order)
    result = connection.execute(statement.limit(limit))
    # `all()` fetches the rows in one call to the driver; iterating fetched them one at a time.
    return list(result.all() if raw else result.mappings().all())


def _after(position: Position, newest_first: bool) -> list[Any]:
    """The keyset conditions of the rows after `position` in (timestamp, id) order.

    The bound on the time alone comes first so that both databases seek the time index to the
    position: with only `time > at OR (time = at AND id > last)`, SQLite read the index from
    the project's first event to the position on every page (an export of a million events
    scanned ever more of it, 100 ms a page near the end).
    """
    at, last = position
    if newest_first:
        return [event_micros <= at, or_(event_micros < at, feedback.c.id < last)]
    return [event_micros >= at, or_(event_micros > at, feedback.c.id > last)]


def _raw_columns(dialect: str) -> list[Any]:
    columns: list[Any] = []
    for column in (feedback.c[name] for name in EVENT_FIELDS):
        if isinstance(column.type, JSON) and dialect != "postgresql":
            # The text as stored; PostgreSQL's driver decodes jsonb itself (`raw_rows_to_events`).
            columns.append(coerce(column, Text).label(column.name))
        elif isinstance(column.type, UtcMicros):
            columns.append(coerce(column, BigInteger).label(column.name))
        else:
            columns.append(column)
    return columns


def count_events(
    connection: Connection, project: str, filters: Sequence[Filter], window: Window
) -> int:
    """How many events match (for progress bars)."""
    compiler = Compiler(connection.dialect.name, project=project)
    conditions = _matching(compiler, project, filters, window)
    statement = select(func.count()).select_from(compiler.source()).where(*conditions)
    return int(connection.execute(statement).scalar_one())


@dataclass(frozen=True, slots=True)
class TraceHit:
    """A trace that matched, and when it last matched (micros)."""

    trace_id: str
    matched_at: int


def search_traces(
    connection: Connection,
    project: str,
    filters: Sequence[Filter],
    after: Position | None,
    limit: int,
) -> list[TraceHit]:
    """Traces matching every filter, newest match first.

    Plain fields hold together on one feedback event; each `feedback.<name> op v` needs some
    event of that name with a matching value; each `span.<attribute> op v` needs some span of
    the trace. A trace's time is its newest matching feedback event, or, when only span
    attributes are asked for, its newest matching span's start.
    """
    compiler = Compiler(connection.dialect.name, project=project)
    on_event = [f for f in filters if f.field.root not in ("feedback", *_SPAN_ROOTS)]
    named = [f for f in filters if f.field.root == "feedback"]
    on_span = [f for f in filters if f.field.root in _SPAN_ROOTS]
    if on_event or named or not on_span:
        matching = _matching_events(compiler, project, on_event, named, on_span)
        return _newest_traces(connection, matching, after, limit)
    inner = _by_spans(compiler, project, on_span).subquery("hits")
    query = select(inner.c.trace_id, inner.c.at)
    if after is not None:
        at, last = after
        query = query.where(or_(inner.c.at < at, and_(inner.c.at == at, inner.c.trace_id < last)))
    query = query.order_by(inner.c.at.desc(), inner.c.trace_id.desc()).limit(limit)
    return [TraceHit(trace_id, int(at)) for trace_id, at in connection.execute(query)]


def _newest_traces(
    connection: Connection, matching: list[Any], after: Position | None, limit: int
) -> list[TraceHit]:
    """Traces in order of their newest matching event, read newest first until `limit` are found.

    The scan stops early instead of grouping every match by trace. A trace appears at its newest
    match; its older matches are skipped, and so are traces a previous page already listed (those
    with a match at or before `after` in the page order).
    """
    at_order = [event_micros.desc(), feedback.c.trace_id.desc()]
    scan = select(feedback.c.trace_id, event_micros).where(*matching).order_by(*at_order)
    listed_before: Any = None
    if after is not None:
        at, last = after
        scan = scan.where(
            or_(event_micros < at, and_(event_micros == at, feedback.c.trace_id < last))
        )
        listed_before = or_(
            event_micros > at, and_(event_micros == at, feedback.c.trace_id >= last)
        )
    hits: list[TraceHit] = []
    seen: set[str] = set()
    chunk = max(64, 2 * limit)
    position: Position | None = None
    while len(hits) < limit:
        page = scan
        if position is not None:
            page = page.where(
                or_(
                    event_micros < position[0],
                    and_(event_micros == position[0], feedback.c.trace_id < position[1]),
                )
            )
        rows = connection.execute(page.limit(chunk)).all()
        found = []
        for trace_id, at in rows:
            if trace_id not in seen:
                seen.add(trace_id)
                found.append((trace_id, int(at)))
        if listed_before is not None and found:
            earlier = select(feedback.c.trace_id).where(
                *matching, listed_before, feedback.c.trace_id.in_([t for t, _ in found])
            )
            listed = set(connection.scalars(earlier.distinct()))
            found = [hit for hit in found if hit[0] not in listed]
        hits += [TraceHit(trace_id, at) for trace_id, at in found[: limit - len(hits)]]
        if len(rows) < chunk:
            break
        position = (int(rows[-1][1]), rows[-1][0])
    return hits


def _named_feedback(compiler: Compiler, project: str, item: Filter) -> Any:
    """The traces with feedback `feedback.<name>` whose value passes the filter."""
    value_filter = Filter(VALUE, item.op, item.value)
    return (
        select(feedback.c.trace_id)
        .where(
            feedback.c.project == project,
            feedback.c.name == item.field.path[0],
            compiler.condition(value_filter),
        )
        .correlate(None)
    )


_SPAN_ROOTS = ("span", MESSAGES)
"""Roots of conditions some span of the trace must meet."""


def _span_traces(compiler: Compiler, project: str, item: Filter) -> Any:
    return (
        select(spans.c.trace_id)
        .where(spans.c.project == project, _on_span(compiler, item))
        .correlate(None)
    )


def _on_span(compiler: Compiler, item: Filter) -> Any:
    """A span condition: on an attribute (`span.*`), or on its messages' text (`messages`)."""
    if item.field.root != MESSAGES:
        return compiler.condition(item)
    needle = str(item.value)
    return or_(_attribute_messages(compiler, needle), _logged_messages(compiler, needle))


def _attribute_messages(compiler: Compiler, needle: str) -> Any:
    """Some attribute of the span that holds messages (any convention) contains `needle`.

    A scan of each span's attributes: message search has no index (docs/query.md)."""
    pairs = func.jsonb_each_text if compiler.postgres else func.json_each
    each = pairs(spans.c.attributes).table_valued("key", "value")
    is_message = or_(
        each.c.key.in_(MESSAGE_ATTRIBUTES),
        *(each.c.key.startswith(prefix, autoescape=True) for prefix in MESSAGE_ATTRIBUTE_PREFIXES),
    )
    text = cast(each.c.value, Text)
    return exists(
        select(literal(1)).select_from(each).where(is_message, compiler.contains(text, needle))
    )


def _logged_messages(compiler: Compiler, needle: str) -> Any:
    """Some message the span's GenAI events (OTLP logs) carried contains `needle`."""
    return exists(
        select(literal(1)).where(
            span_messages.c.project == spans.c.project,
            span_messages.c.span_id == spans.c.span_id,
            compiler.contains(cast(span_messages.c.message, Text), needle),
        )
    )


def _matching_events(
    compiler: Compiler,
    project: str,
    on_event: Sequence[Filter],
    named: Sequence[Filter],
    on_span: Sequence[Filter],
) -> list[Any]:
    """Conditions on a feedback event that make its trace a match."""
    conditions = [feedback.c.project == project, on_a_trace(compiler.dialect)]
    conditions += [compiler.condition(f) for f in on_event]
    if named:
        first = named[0]
        conditions += [
            feedback.c.name == first.field.path[0],
            compiler.condition(Filter(VALUE, first.op, first.value)),
        ]
    conditions += [
        feedback.c.trace_id.in_(_named_feedback(compiler, project, f)) for f in named[1:]
    ]
    conditions += [feedback.c.trace_id.in_(_span_traces(compiler, project, f)) for f in on_span]
    return conditions


def _by_spans(compiler: Compiler, project: str, on_span: Sequence[Filter]) -> Select[Any]:
    first, *rest = on_span
    conditions = [spans.c.project == project, _on_span(compiler, first)]
    conditions += [spans.c.trace_id.in_(_span_traces(compiler, project, f)) for f in rest]
    return (
        select(
            spans.c.trace_id.label("trace_id"),
            (func.max(spans.c.start_time_ns) // 1000).label("at"),
        )
        .where(*conditions)
        .group_by(spans.c.trace_id)
    )
