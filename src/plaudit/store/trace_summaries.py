"""Traces as lists show them: one line per trace, and the traces of a conversation or a user.

A trace has no row of its own; its line is its root span (the span without a parent, found
through `ix_spans_roots`), its span count and status, and the feedback about it. Every read here
is bounded: a page of roots, then the summaries of at most that many traces by their ids.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select

from plaudit.store.schema import feedback, spans, to_micros
from plaudit.store.sql_aggregate import Window
from plaudit.store.sql_query import on_a_trace, unindexed

Position = tuple[int, str]
"""(root start in nanoseconds, trace id): where a page of the newest traces ends."""

_NS_PER_MICRO = 1_000


@dataclass(frozen=True, slots=True)
class FeedbackMark:
    """One feedback event as a trace line needs it."""

    id: str
    name: str
    kind: str
    value: Any
    value_num: float | None
    comment: str | None
    user_id: str | None
    span_id: str | None
    timestamp: int  # micros


@dataclass(slots=True)
class TraceSummary:
    """A trace's line: its root span, size, status, who and which conversation, its feedback."""

    trace_id: str
    name: str
    capability: str | None
    start_ns: int
    end_ns: int
    spans: int
    errors: int
    user_id: str | None
    conversation_id: str | None
    service: str | None
    feedback: list[FeedbackMark] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        """From the first span's start to the last one's end."""
        return (self.end_ns - self.start_ns) / 1_000_000


def _root_window(window: Window) -> list[Any]:
    conditions = []
    if window.since is not None:
        conditions.append(spans.c.start_time_ns >= window.since * _NS_PER_MICRO)
    if window.until is not None:
        conditions.append(spans.c.start_time_ns < window.until * _NS_PER_MICRO)
    return conditions


def _roots(project: str, window: Window) -> Any:
    return select(spans.c.trace_id, spans.c.start_time_ns).where(
        spans.c.project == project, spans.c.parent_span_id.is_(None), *_root_window(window)
    )


def newest_traces(
    connection: Connection, project: str, window: Window, after: Position | None, limit: int
) -> list[Position]:
    """Up to `limit` traces by their root's start, newest first, after `after`."""
    query = _roots(project, window)
    if after is not None:
        at, last = after
        query = query.where(
            or_(
                spans.c.start_time_ns < at,
                and_(spans.c.start_time_ns == at, spans.c.trace_id < last),
            )
        )
    query = query.order_by(spans.c.start_time_ns.desc(), spans.c.trace_id.desc()).limit(limit)
    return [(int(at), trace_id) for trace_id, at in connection.execute(query)]


def longest_traces(
    connection: Connection, project: str, window: Window, offset: int, limit: int
) -> list[str]:
    """Trace ids by their root span's duration, longest first."""
    duration = spans.c.end_time_ns - spans.c.start_time_ns
    query = (
        select(spans.c.trace_id)
        .where(spans.c.project == project, spans.c.parent_span_id.is_(None))
        .where(*_root_window(window))
        .order_by(duration.desc(), spans.c.trace_id)
        .offset(offset)
        .limit(limit)
    )
    return list(connection.scalars(query))


def most_discussed_traces(
    connection: Connection, project: str, window: Window, offset: int, limit: int
) -> list[str]:
    """Trace ids by how much feedback they received within `window`, most first."""
    dialect = connection.dialect.name
    conditions = [feedback.c.project == project, on_a_trace(dialect)]
    if window.since is not None:
        conditions.append(feedback.c.timestamp >= window.since)
    if window.until is not None:
        conditions.append(feedback.c.timestamp < window.until)
    count = func.count()
    # All time, the trace index holds all that is counted, in order: SQLite reads only it. Within
    # a time window, grouping in its order would read every event of the project instead of the
    # window's (through the time index).
    bounded = window.since is not None or window.until is not None
    query = (
        select(feedback.c.trace_id)
        .where(*conditions)
        .group_by(unindexed(feedback.c.trace_id, dialect) if bounded else feedback.c.trace_id)
        .order_by(count.desc(), feedback.c.trace_id)
        .offset(offset)
        .limit(limit)
    )
    return list(connection.scalars(query))


def summaries(connection: Connection, project: str, trace_ids: Sequence[str]) -> list[TraceSummary]:
    """The lines of `trace_ids`, in that order; traces with no span stored are left out."""
    if not trace_ids:
        return []
    ids = list(dict.fromkeys(trace_ids))
    errors = func.sum(case((spans.c.status_code.in_(("error", "ERROR")), 1), else_=0))
    shape = select(
        spans.c.trace_id,
        func.count().label("spans"),
        func.min(spans.c.start_time_ns).label("start"),
        func.max(spans.c.end_time_ns).label("end"),
        errors.label("errors"),
    ).where(spans.c.project == project, spans.c.trace_id.in_(ids))
    sizes = {row.trace_id: row for row in connection.execute(shape.group_by(spans.c.trace_id))}
    members = (
        select(spans.c.trace_id, spans.c.name, spans.c.capability, spans.c.user_id,
               spans.c.conversation_id, spans.c.resource, spans.c.parent_span_id)
        .where(spans.c.project == project, spans.c.trace_id.in_(ids))
        .order_by(spans.c.trace_id, spans.c.start_time_ns)
    )  # fmt: skip
    by_trace: dict[str, list[Any]] = {}
    for row in connection.execute(members):
        by_trace.setdefault(row.trace_id, []).append(row)
    found: dict[str, TraceSummary] = {}
    for trace_id, rows in by_trace.items():
        # The root names the trace; one whose root has not arrived is named by its first span.
        root = next((r for r in rows if r.parent_span_id is None), rows[0])
        size = sizes[trace_id]
        line = TraceSummary(
            trace_id=trace_id, name=root.name, capability=root.capability,
            start_ns=int(size.start), end_ns=int(size.end), spans=int(size.spans),
            errors=int(size.errors or 0), user_id=root.user_id,
            conversation_id=root.conversation_id, service=_service(root.resource),
        )  # fmt: skip
        for row in rows:
            _fill_gaps(line, row)
        found[trace_id] = line
    for mark_trace, mark in _feedback_of(connection, project, list(found)):
        line = found[mark_trace]
        line.feedback.append(mark)
        line.user_id = line.user_id or mark.user_id
    return [found[t] for t in ids if t in found]


def _fill_gaps(line: TraceSummary, row: Any) -> None:
    """A child span may say what its root does not (the capability, the user)."""
    line.capability = line.capability or row.capability
    line.user_id = line.user_id or row.user_id
    line.conversation_id = line.conversation_id or row.conversation_id


def _service(resource: Any) -> str | None:
    name = resource.get("service.name") if isinstance(resource, dict) else None
    return name if isinstance(name, str) else None


def _feedback_of(
    connection: Connection, project: str, trace_ids: list[str]
) -> list[tuple[str, FeedbackMark]]:
    if not trace_ids:
        return []
    query = (
        select(feedback.c.trace_id, feedback.c.id, feedback.c.name, feedback.c.kind,
               feedback.c.value, feedback.c.value_num, feedback.c.comment, feedback.c.user_id,
               feedback.c.span_id, feedback.c.timestamp, feedback.c.conversation_id)
        .where(feedback.c.project == project, feedback.c.trace_id.in_(trace_ids))
        .order_by(feedback.c.timestamp, feedback.c.id)
    )  # fmt: skip
    return [(row.trace_id, _mark(row)) for row in connection.execute(query)]


def _micros(value: Any) -> int:
    """A time read back from an aggregate: a datetime, or micros where the type is lost."""
    return int(value) if isinstance(value, int | float) else to_micros(value)


def _mark(row: Any) -> FeedbackMark:
    return FeedbackMark(
        id=row.id, name=row.name, kind=row.kind, value=row.value, value_num=row.value_num,
        comment=row.comment, user_id=row.user_id, span_id=row.span_id,
        timestamp=_micros(row.timestamp),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Conversation:
    """A conversation's traces in order, and its feedback that names no trace."""

    conversation_id: str
    traces: list[TraceSummary]
    unlinked: list[FeedbackMark]


MAX_CONVERSATION_TRACES = 200


def conversation(connection: Connection, project: str, conversation_id: str) -> Conversation:
    """The traces whose spans or feedback name the conversation, oldest first."""
    from_spans = (
        select(spans.c.trace_id)
        .where(spans.c.project == project, spans.c.conversation_id == conversation_id)
        .distinct()
        .limit(MAX_CONVERSATION_TRACES)
    )
    trace_ids = set(connection.scalars(from_spans))
    events = (
        select(feedback.c.trace_id, feedback.c.id, feedback.c.name, feedback.c.kind,
               feedback.c.value, feedback.c.value_num, feedback.c.comment, feedback.c.user_id,
               feedback.c.span_id, feedback.c.timestamp)
        .where(feedback.c.project == project, feedback.c.conversation_id == conversation_id)
        .order_by(feedback.c.timestamp, feedback.c.id)
        .limit(10 * MAX_CONVERSATION_TRACES)
    )  # fmt: skip
    unlinked = []
    for row in connection.execute(events):
        if row.trace_id is None:
            unlinked.append(_mark(row))
        elif len(trace_ids) < MAX_CONVERSATION_TRACES:
            trace_ids.add(row.trace_id)
    lines = summaries(connection, project, sorted(trace_ids))
    lines.sort(key=lambda line: (line.start_ns, line.trace_id))
    return Conversation(conversation_id, lines, unlinked)


@dataclass(frozen=True, slots=True)
class ConversationTally:
    """One of a user's conversations: their feedback in it and when they last gave some."""

    conversation_id: str
    events: int
    last: int  # micros


@dataclass(frozen=True, slots=True)
class UserActivity:
    """A user's conversations and newest feedback."""

    user_id: str
    conversations: list[ConversationTally]
    feedback: list[tuple[FeedbackMark, str | None, str | None]]  # (event, trace, capability)


MAX_USER_EVENTS = 2_000


def _conversations_of(
    connection: Connection, project: str, conditions: list[Any], limit: int
) -> list[ConversationTally]:
    """The conversations of the user's newest events: named on the event, or on its trace's
    spans (feedback about a trace often names no conversation itself)."""
    recent = (
        select(feedback.c.conversation_id, feedback.c.trace_id, feedback.c.timestamp)
        .where(*conditions)
        .order_by(feedback.c.timestamp.desc())
        .limit(MAX_USER_EVENTS)
    )
    rows = connection.execute(recent).all()
    traces = sorted({row.trace_id for row in rows if row.trace_id and not row.conversation_id})
    named: dict[str, str] = {}
    for first in range(0, len(traces), 500):
        found = (
            select(spans.c.trace_id, spans.c.conversation_id)
            .where(spans.c.project == project, spans.c.trace_id.in_(traces[first : first + 500]))
            .where(spans.c.conversation_id.is_not(None))
        )
        named.update({trace: talk for trace, talk in connection.execute(found)})
    tallies: dict[str, tuple[int, int]] = {}
    for row in rows:
        talk = row.conversation_id or named.get(row.trace_id or "")
        if talk:
            count, last = tallies.get(talk, (0, 0))
            tallies[talk] = (count + 1, max(last, _micros(row.timestamp)))
    ordered = sorted(tallies.items(), key=lambda item: -item[1][1])[:limit]
    return [ConversationTally(talk, count, last) for talk, (count, last) in ordered]


def user_activity(
    connection: Connection, project: str, user_id: str, window: Window, limit: int = 100
) -> UserActivity:
    """The user's conversations (most recent first) and their newest `limit` events."""
    conditions = [feedback.c.project == project, feedback.c.user_id == user_id]
    if window.since is not None:
        conditions.append(feedback.c.timestamp >= window.since)
    if window.until is not None:
        conditions.append(feedback.c.timestamp < window.until)
    conversations = _conversations_of(connection, project, conditions, limit)
    events = (
        select(feedback.c.trace_id, feedback.c.id, feedback.c.name, feedback.c.kind,
               feedback.c.value, feedback.c.value_num, feedback.c.comment, feedback.c.user_id,
               feedback.c.span_id, feedback.c.timestamp, feedback.c.capability,
               feedback.c.conversation_id)
        .where(*conditions)
        .order_by(feedback.c.timestamp.desc(), feedback.c.id.desc())
        .limit(limit)
    )  # fmt: skip
    marks = [(_mark(row), row.trace_id, row.capability) for row in connection.execute(events)]
    return UserActivity(user_id, conversations, marks)
