"""Which stored spans, traces and conversations feedback points at (`link_status`)."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection

from plaudit.store.bulk import rows_in
from plaudit.store.schema import spans


@dataclass(frozen=True, slots=True)
class SpanFacts:
    """What a feedback event takes from the span it is about."""

    trace_id: str
    capability: str | None
    step: str | None
    span_id: str | None = None
    """Set when the event named no span and the span was found by its response id."""


@dataclass(slots=True)
class KnownTargets:
    """Stored targets among those a set of feedback events names."""

    spans: dict[str, list[tuple[str, SpanFacts]]] = field(default_factory=dict)
    traces: set[str] = field(default_factory=set)
    conversations: set[str] = field(default_factory=set)
    responses: dict[str, SpanFacts] = field(default_factory=dict)

    def resolve(
        self,
        trace_id: str | None,
        span_id: str | None,
        conversation_id: str | None,
        response_id: str | None = None,
    ) -> SpanFacts | bool:
        """The span's facts when the span is stored; else whether the trace/conversation is.

        A span id decides alone; else a response id names its span; else the trace, then the
        conversation.
        """
        if span_id is not None:
            for span_trace, facts in self.spans.get(span_id, ()):
                if trace_id is None or trace_id == span_trace:
                    return facts
            return False
        if response_id is not None:
            return self.responses.get(response_id, False)
        if trace_id is not None:
            return trace_id in self.traces
        return conversation_id is not None and conversation_id in self.conversations


def known_targets(
    connection: Connection,
    project: str,
    span_ids: Iterable[str],
    trace_ids: Iterable[str],
    conversation_ids: Iterable[str],
    response_ids: Iterable[str] = (),
) -> KnownTargets:
    """Look up, in bulk, which of these targets are stored in `project`."""
    known = KnownTargets()
    columns = ("span_id", "trace_id", "capability", "step")
    for span_id, trace_id, capability, step in rows_in(
        connection, spans, columns, project, "span_id", span_ids
    ):
        known.spans.setdefault(span_id, []).append(
            (trace_id, SpanFacts(trace_id, capability, step))
        )
    for (trace_id,) in rows_in(
        connection, spans, ("trace_id",), project, "trace_id", trace_ids, True
    ):
        known.traces.add(trace_id)
    conversations = rows_in(
        connection, spans, ("conversation_id",), project, "conversation_id", conversation_ids, True
    )
    known.conversations.update(c for (c,) in conversations if c)
    for row in rows_in(
        connection,
        spans,
        ("response_id", "span_id", "trace_id", "capability", "step"),
        project,
        "response_id",
        response_ids,
    ):
        known.responses[row[0]] = SpanFacts(row[2], row[3], row[4], row[1])
    return known
