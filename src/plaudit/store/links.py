"""Which stored spans, traces and conversations feedback points at (DESIGN §2 `link_status`)."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import Connection, select

from plaudit.store.schema import spans

CHUNK: Final = 500


@dataclass(frozen=True, slots=True)
class SpanFacts:
    """What a feedback event takes from the span it is about."""

    trace_id: str
    capability: str | None
    step: str | None


@dataclass(slots=True)
class KnownTargets:
    """Stored targets among those a set of feedback events names."""

    spans: dict[str, list[tuple[str, SpanFacts]]] = field(default_factory=dict)
    traces: set[str] = field(default_factory=set)
    conversations: set[str] = field(default_factory=set)

    def resolve(
        self, trace_id: str | None, span_id: str | None, conversation_id: str | None
    ) -> SpanFacts | bool:
        """The span's facts when the span is stored; else whether the trace/conversation is."""
        if span_id is not None:
            for span_trace, facts in self.spans.get(span_id, ()):
                if trace_id is None or trace_id == span_trace:
                    return facts
            return False
        if trace_id is not None:
            return trace_id in self.traces
        return conversation_id is not None and conversation_id in self.conversations


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    items = sorted(set(values))
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def known_targets(
    connection: Connection,
    project: str,
    span_ids: Iterable[str],
    trace_ids: Iterable[str],
    conversation_ids: Iterable[str],
) -> KnownTargets:
    """Look up, in bulk, which of these targets are stored in `project`."""
    known = KnownTargets()
    in_project = spans.c.project == project
    for chunk in _chunks(span_ids):
        query = select(spans.c.span_id, spans.c.trace_id, spans.c.capability, spans.c.step)
        for span_id, trace_id, capability, step in connection.execute(
            query.where(in_project, spans.c.span_id.in_(chunk))
        ):
            known.spans.setdefault(span_id, []).append(
                (trace_id, SpanFacts(trace_id, capability, step))
            )
    for chunk in _chunks(trace_ids):
        query = select(spans.c.trace_id).where(in_project, spans.c.trace_id.in_(chunk)).distinct()
        known.traces.update(connection.scalars(query))
    for chunk in _chunks(conversation_ids):
        query = select(spans.c.conversation_id).where(
            in_project, spans.c.conversation_id.in_(chunk)
        )
        known.conversations.update(v for v in connection.scalars(query.distinct()) if v)
    return known
