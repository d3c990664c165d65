"""`/conversations/{id}` and `/users/{id}`: a conversation's traces in order, a user's activity.

A conversation is every trace whose spans or feedback carry its id (`gen_ai.conversation.id`, or
`conversation_id` on the event), oldest first, each with all the feedback on it. A user's page
lists the conversations they gave feedback in and their newest events, within the chosen range.
Both are reached from the explorer, the traces list, a trace and each other.
"""

from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote, urlencode

from litestar import Request, Response, get
from litestar.params import FromPath

from plaudit.console import explorer
from plaudit.console.marks import mark_badge, number_ranges
from plaudit.console.pages import ErrorPage
from plaudit.console.render import page, started, when
from plaudit.console.time_range import picker, window
from plaudit.console.trace_pages import (
    ConversationPage,
    ConversationTrace,
    UserConversation,
    UserEvent,
    UserPage,
)
from plaudit.console.views.common import chrome, query_params, signed_in
from plaudit.console.views.trace_list import trace_line
from plaudit.core.query.model import QueryError
from plaudit.store.schema import from_micros
from plaudit.store.trace_summaries import (
    MAX_CONVERSATION_TRACES,
    conversation,
    user_activity,
)

MAX_ID: Final = 256  # conversation and user ids are stored up to this length


def _too_long(kind: str, value: str) -> ErrorPage | None:
    if len(value) > MAX_ID:
        return ErrorPage(404, f"No such {kind}: ids are at most {MAX_ID} characters.")
    return None


@get("/conversations/{conversation_id:str}", include_in_schema=False)
async def conversation_page(
    request: Request[Any, Any, Any], conversation_id: FromPath[str]
) -> Response[str]:
    """The conversation's traces in order, with the feedback on each."""
    since = started()
    state, session = signed_in(request)
    frame = chrome(session, f"Conversation {conversation_id[:24]}", "traces")
    if (problem := _too_long("conversation", conversation_id)) is not None:
        return page("error.html", since, frame, problem, status=404)
    found = await state.read(conversation, session.project, conversation_id)
    if not found.traces and not found.unlinked:
        missing = ErrorPage(404, "No trace or feedback names this conversation in this project.")
        return page("error.html", since, frame, missing, status=404)
    ranges = await number_ranges(state, session.project)
    traces = [
        ConversationTrace(trace_line(ranges, line), [mark_badge(ranges, m) for m in line.feedback])
        for line in found.traces
    ]
    users = sorted(
        {t.line.user_id for t in traces if t.line.user_id}
        | {m.user_id for m in found.unlinked if m.user_id}
        | {b.user_id for t in traces for b in t.feedback if b.user_id}
    )
    context = ConversationPage(
        conversation_id=conversation_id,
        traces=traces,
        unlinked=[mark_badge(ranges, m) for m in found.unlinked],
        users=users,
        truncated=len(found.traces) >= MAX_CONVERSATION_TRACES,
    )
    return page("conversation.html", since, frame, context)


def _range_of(params: dict[str, str]) -> tuple[str, str]:
    return params.get("since", ""), params.get("until", "")


@get("/users/{user_id:str}", include_in_schema=False)
async def user_page(request: Request[Any, Any, Any], user_id: FromPath[str]) -> Response[str]:
    """The user's conversations and newest feedback in the range (all time by default)."""
    since = started()
    state, session = signed_in(request)
    frame = chrome(session, f"User {user_id[:24]}", "traces")
    if (problem := _too_long("user", user_id)) is not None:
        return page("error.html", since, frame, problem, status=404)
    params = query_params(request)
    notes: list[str] = []
    try:
        span = window(params, datetime.now(UTC))
    except QueryError as error:
        notes.append(f"That range was not understood ({error.message}); showing all time.")
        params = {k: v for k, v in params.items() if k not in ("since", "until")}
        span = window(params, datetime.now(UTC))
    found = await state.read(user_activity, session.project, user_id, span)
    ranges = await number_ranges(state, session.project)
    events = []
    for mark, trace_id, capability in found.feedback:
        shown = mark_badge(ranges, mark)
        opened = explorer.url({"user": user_id}, event=mark.id)
        moment = when(from_micros(mark.timestamp))
        events.append(UserEvent(moment, shown, capability or "", trace_id or "", opened))
    if len(found.feedback) >= 100:
        notes.append("The newest 100 events; the explorer lists them all.")
    chosen = {k: v for k, v in params.items() if k in ("since", "until")}
    context = UserPage(
        user_id=user_id,
        conversations=[
            UserConversation(c.conversation_id, c.events, when(from_micros(c.last)))
            for c in found.conversations
        ],
        events=events,
        picker=picker(f"/users/{quote(user_id, safe='')}", {}, *_range_of(params)),
        explorer_url="/feedback?" + urlencode({"user": user_id, **chosen}),
        good=sum(1 for e in events if e.badge.tone == "good"),
        bad=sum(1 for e in events if e.badge.tone == "bad"),
        notes=notes,
    )
    return page("user.html", since, frame, context)
