"""`/feedback`: the explorer — filters in the URL, a keyset-paged table, a detail panel.

A page is one indexed read of at most 50 rows, newest first (`events_page`), never a count of
everything that matches: that keeps it flat at 1,000,000 events. The capability picker lists the
capabilities seen in the last 7 days, cached for a minute per project.
"""

from dataclasses import replace
from typing import Any, Final
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Redirect
from sqlalchemy import Connection

from plaudit.analytics.run import run_query
from plaudit.console import explorer
from plaudit.console.cache import cached
from plaudit.console.pages import ErrorPage, EventDetail, EventRow, ExplorerPage
from plaudit.console.render import html, is_htmx, page, started
from plaudit.console.time_range import picker
from plaudit.console.views.common import chrome, query_params, signed_in
from plaudit.core.feedback import Kind, Source
from plaudit.core.query.model import QueryError
from plaudit.core.query.text import parse_query
from plaudit.server.state import ServerState
from plaudit.store.event_search import events_page
from plaudit.store.feedback import get_feedback

CAPABILITY_SECONDS: Final = 60.0


def _capability_names(connection: Connection, project: str) -> list[str]:
    query = parse_query("count by capability since 7d")
    # Written by the server, not the user: the picker lists every capability, uncapped.
    answer = run_query(connection, query, project, max_groups=None)
    return sorted(str(row[0]) for row in answer.rows if row[0] is not None)


async def capabilities(state: ServerState, project: str) -> list[str]:
    """Capabilities seen in the last 7 days (cached: they change rarely, counting is not free)."""

    async def compute() -> list[str]:
        return await state.read(_capability_names, project)

    return await cached(("capabilities", id(state), project), CAPABILITY_SECONDS, compute)


def _rows(connection: Connection, project: str, chosen: explorer.Selection) -> list[Any]:
    return events_page(
        connection, project, chosen.filters, chosen.window, chosen.after, explorer.PAGE_SIZE,
        newest_first=True,
    )  # fmt: skip


async def _detail(state: ServerState, project: str, event_id: str) -> EventDetail | None:
    event = await state.read(get_feedback, project, event_id)
    return None if event is None else explorer.detail(event)


@get("/feedback", include_in_schema=False)
async def explorer_page(request: Request[Any, Any, Any]) -> Response[str]:
    """The explorer; `event=<id>` opens that event's detail panel."""
    since = started()
    state, session = signed_in(request)
    params = query_params(request)
    rows: list[EventRow] = []
    next_url = None
    error = ""
    try:
        chosen = explorer.selection(params)
    except QueryError as problem:
        error = problem.message
    else:
        found = await state.read(_rows, session.project, chosen)
        rows = [
            replace(
                explorer.event_row(row), open_url=explorer.url(params, event=row["id"]),
                conversation_id=row["conversation_id"],
            )
            for row in found
        ]  # fmt: skip
        cursor = explorer.next_cursor(found)
        next_url = explorer.url(params, after=cursor, event=None) if cursor else None
    names = await capabilities(state, session.project)
    if (chosen_capability := params.get("capability")) and chosen_capability not in names:
        names = sorted([*names, chosen_capability])
    event_id = params.get("event")
    context = ExplorerPage(
        filters={k: params.get(k, "") for k in (*explorer.PARAMS, "after", "event")},
        capabilities=names,
        kinds=tuple(k.value for k in Kind),
        sources=tuple(s.value for s in Source),
        rows=rows,
        next_url=next_url,
        detail=await _detail(state, session.project, event_id) if event_id else None,
        error=error,
        picker=picker("/feedback", params, params.get("since", ""), params.get("until", "")),
        export_query=urlencode({k: v for k, v in params.items() if k in explorer.PARAMS}),
    )
    return page("feedback.html", since, chrome(session, "Feedback", "feedback"), context)


@get("/feedback/{event_id:str}", include_in_schema=False)
async def event_detail(request: Request[Any, Any, Any], event_id: FromPath[str]) -> Response[Any]:
    """The detail panel alone for htmx, or the explorer opened on this event."""
    since = started()
    state, session = signed_in(request)
    if not is_htmx(request):
        return Redirect(explorer.url(query_params(request), event=event_id))
    found = await _detail(state, session.project, event_id)
    if found is None:
        missing = ErrorPage(404, "No such feedback event.")
        return html("_detail.html", since, status=404, detail=None, error=missing)
    return html("_detail.html", since, detail=found, error=None)
