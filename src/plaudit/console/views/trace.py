"""`/traces/{trace_id}`: the span waterfall, each span's attributes and messages, its feedback.

`?event=<id>` (from the explorer's "View trace") selects the span that event is about.
"""

import json
from typing import Any, Final

from litestar import Request, Response, get
from litestar.params import FromPath
from sqlalchemy import Connection

from plaudit.console.marks import Ranges, event_badge, number_ranges
from plaudit.console.pages import ErrorPage, Message, SpanFeedback, SpanRow, TracePage
from plaudit.console.render import page, started
from plaudit.console.views.common import chrome, signed_in
from plaudit.core.genai import Message as GenAiMessage
from plaudit.core.genai import message_text, span_messages
from plaudit.core.ids import is_trace_id
from plaudit.core.query.text import parse_filters, render_literal
from plaudit.store.event_search import search_traces
from plaudit.store.spans import get_trace

CONVERSATION: Final = "gen_ai.conversation.id"
CONVERSATION_TRACES: Final = 20


def shown(messages: list[GenAiMessage]) -> list[Message]:
    """Messages as the page shows them: role and text."""
    return [Message(str(m.get("role", "")), message_text(m)) for m in messages]


def span_feedback(event: dict[str, Any], ranges: Ranges | None = None) -> SpanFeedback:
    """An event as a badge on its span, coloured by its value."""
    return event_badge(ranges or {}, event)


def _flatten(spans: list[dict[str, Any]], depth: int = 0) -> list[tuple[int, dict[str, Any]]]:
    rows: list[tuple[int, dict[str, Any]]] = []
    for span in spans:
        rows.append((depth, span))
        rows.extend(_flatten(span["children"], depth + 1))
    return rows


def span_rows(
    tree: dict[str, Any], selected: str | None, ranges: Ranges | None = None
) -> list[SpanRow]:
    """The waterfall: spans in tree order, placed on the trace's time line."""
    flat = _flatten(tree["spans"])
    start = min(s["start_time_ns"] for _, s in flat)
    total = max(1, max(s["end_time_ns"] for _, s in flat) - start)
    rows = []
    for depth, span in flat:
        attributes = span["attributes"]
        said = span_messages(attributes)
        length = span["end_time_ns"] - span["start_time_ns"]
        rows.append(
            SpanRow(
                span_id=span["span_id"],
                name=span["name"],
                depth=depth,
                offset=round(100 * (span["start_time_ns"] - start) / total, 2),
                width=max(0.5, round(100 * length / total, 2)),
                duration_ms=span["duration_ms"],
                status=span["status_code"],
                capability=span["capability"] or "",
                step=span["step"] or "",
                attributes=sorted(
                    (k, v if isinstance(v, str) else json.dumps(v))
                    for k, v in attributes.items()
                    if k not in said.sources
                ),
                inputs=shown(said.inputs),
                outputs=shown(said.outputs),
                feedback=[span_feedback(e, ranges) for e in span["feedback"]],
                selected=span["span_id"] == selected,
            )
        )
    return rows


def _trace_and_conversation(
    connection: Connection, project: str, trace_id: str
) -> tuple[dict[str, Any] | None, list[str]]:
    tree = get_trace(connection, project, trace_id)
    if tree is None:
        return None, []
    conversation = _conversation_id(tree)
    if conversation is None:
        return tree, []
    condition = f"span.{CONVERSATION} = {render_literal(conversation)}"
    hits = search_traces(
        connection, project, parse_filters(condition, ("feedback", "span")), None,
        CONVERSATION_TRACES,
    )  # fmt: skip
    return tree, sorted(h.trace_id for h in hits)


def _conversation_id(tree: dict[str, Any]) -> str | None:
    for _, span in _flatten(tree["spans"]):
        value = span["conversation_id"] or span["attributes"].get(CONVERSATION)
        if value:
            return str(value)
    return None


def _selected_span(tree: dict[str, Any], event_id: str | None, span_id: str | None) -> str | None:
    if span_id:
        return span_id
    for _, span in _flatten(tree["spans"]):
        if any(e["id"] == event_id for e in span["feedback"]):
            return str(span["span_id"])
    return None


@get("/traces/{trace_id:str}", include_in_schema=False)
async def trace_page(request: Request[Any, Any, Any], trace_id: FromPath[str]) -> Response[str]:
    """The trace view."""
    since = started()
    state, session = signed_in(request)
    frame = chrome(session, f"Trace {trace_id[:8]}", "trace")
    tree: dict[str, Any] | None = None
    conversation: list[str] = []
    if is_trace_id(trace_id):
        tree, conversation = await state.read(_trace_and_conversation, session.project, trace_id)
    if tree is None:
        missing = ErrorPage(404, "No such trace in this project (it may not have arrived yet).")
        return page("error.html", since, frame, missing, status=404)
    selected = _selected_span(
        tree, request.query_params.get("event"), request.query_params.get("span")
    )
    ranges = await number_ranges(state, session.project)
    rows = span_rows(tree, selected, ranges)
    context = TracePage(
        trace_id=trace_id,
        duration_ms=max((r.duration_ms for r in rows if r.depth == 0), default=0.0),
        spans=rows,
        trace_feedback=[span_feedback(e, ranges) for e in tree["feedback"]],
        conversation_id=_conversation_id(tree),
        conversation=conversation,
        selected_span=selected,
        resource=resource_rows(tree),
        users=_users(tree),
    )
    return page("trace.html", since, frame, context)


def resource_rows(tree: dict[str, Any]) -> list[tuple[str, str]]:
    """The resource attributes (service.name, …) of the trace's root, or its first span."""
    flat = _flatten(tree["spans"])
    if not flat:
        return []
    resource = flat[0][1].get("resource") or {}
    return sorted((k, v if isinstance(v, str) else json.dumps(v)) for k, v in resource.items())


def _users(tree: dict[str, Any]) -> list[str]:
    found = {span["user_id"] for _, span in _flatten(tree["spans"]) if span.get("user_id")}
    found |= {e["user_id"] for e in tree["feedback"] if e.get("user_id")}
    for _, span in _flatten(tree["spans"]):
        found |= {e["user_id"] for e in span["feedback"] if e.get("user_id")}
    return sorted(found)
