"""`/queues` (progress of every queue) and `/queues/{name}`, the review page: one held item at a
time, answered with the keyboard alone (keys in static/review.js)."""

from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote, urlencode

import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect
from sqlalchemy import Connection

from plaudit.console.loop_pages import DoneRow, QueueRow, QueuesPage, ReviewPage
from plaudit.console.pages import ErrorPage
from plaudit.console.render import page, started, when
from plaudit.console.review import answers_from_form, questions, review_item
from plaudit.console.session import Session
from plaudit.console.views.common import checked_form, chrome, signed_in
from plaudit.core.configs import FeedbackConfig
from plaudit.errors import PlauditError
from plaudit.loop.annotations import CompleteItem, answer_events
from plaudit.server.state import ServerState
from plaudit.store.annotation_queues import (
    counts,
    hold_next,
    item_row,
    list_items,
    list_queues,
    queue_row,
)
from plaudit.store.console_sessions import signed_in_as
from plaudit.store.writer import Call

RECENT: Final = 10


async def console_reviewer(state: ServerState, session: Session) -> str:
    """Who a console session reviews as: the name of the token it signed in with (`console`
    for the password), and its sign-in, so holds tell two people with one token apart."""
    name = await state.read(signed_in_as, session.sid) or "console"
    return f"{name} #{session.sid[:6]}"


@get("/queues", include_in_schema=False)
async def queues_page(request: Request[Any, Any, Any]) -> Response[str]:
    """Every queue with done/total."""
    since = started()
    state, session = signed_in(request)
    found = await state.read(list_queues, session.project, None, 1000)
    rows = [
        QueueRow(q["name"], q["instructions"] or "", (q["fill"] or {}).get("query", ""),
                 q["counts"]["pending"], q["counts"]["done"])
        for q in found
    ]  # fmt: skip
    return page("queues.html", since, chrome(session, "Queues", "queues"), QueuesPage(rows))


def _recent(connection: Connection, project: str, queue: str) -> list[DoneRow]:
    done = list_items(connection, project, queue, "done", None, 100_000)
    done.sort(key=lambda i: i.get("done_at", ""), reverse=True)
    return [DoneRow(i["id"], i.get("done_by", ""), when(i.get("done_at"))) for i in done[:RECENT]]


def _review(
    connection: Connection,
    project: str,
    queue: Any,
    held: Any,
    configs: dict[str, FeedbackConfig],
    skip: list[str],
    error: str,
) -> ReviewPage:
    counted = counts(connection, project, [queue["name"]])[queue["name"]]
    return ReviewPage(
        queue=queue["name"], instructions=queue["instructions"] or "",
        done=counted["done"], total=counted["done"] + counted["pending"],
        item=review_item(connection, project, held) if held is not None else None,
        questions=questions(queue["feedback_names"], configs),
        skip=",".join(skip), recent=_recent(connection, project, queue["name"]), error=error,
    )  # fmt: skip


@get("/queues/{name:str}", include_in_schema=False)
async def review_page(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[str]:
    """Hold the next pending item for this reviewer and show it (`?skip=` passes items over)."""
    since = started()
    state, session = signed_in(request)
    project = session.project
    queue = await state.read(queue_row, project, name)
    if queue is None:
        problem = ErrorPage(404, f"There is no queue named {name}.")
        return page(
            "error.html", since, chrome(session, "Not found", "queues"), problem, status=404
        )
    skip = [s for s in request.query_params.get("skip", "").split(",") if s][:200]
    reviewer, now = await console_reviewer(state, session), datetime.now(UTC)
    held = await state.writer.write(
        Call(lambda c: hold_next(c, project, name, reviewer, skip, now))
    )
    configs = dict(await anyio.to_thread.run_sync(state.configs.load, project))
    error = request.query_params.get("error", "")
    context = await state.read(_review, project, queue, held, configs, skip, error)
    return page("review.html", since, chrome(session, f"Review {name}", "queues"), context)


@post("/queues/{name:str}/items/{item_id:str}/complete", include_in_schema=False, status_code=303)
async def complete_form(
    request: Request[Any, Any, Any], name: FromPath[str], item_id: FromPath[str]
) -> Response[Any]:
    """Store the answers as this reviewer's feedback and open the next item."""
    state, session, fields = await checked_form(request)
    project = session.project
    queue = await state.read(queue_row, project, name)
    item = await state.read(item_row, project, name, item_id)
    skip = fields.get("skip", "")
    back = f"/queues/{quote(name)}"
    if queue is None or item is None:
        return Redirect(back, status_code=303)
    configs = await anyio.to_thread.run_sync(state.configs.load, project)
    answers = answers_from_form(queue["feedback_names"], configs, fields)
    if not answers:
        return _again(back, skip, "Choose an answer first (keys 1–9), or skip with s.")
    reviewer, now = await console_reviewer(state, session), datetime.now(UTC)
    try:
        events = answer_events(queue, item, answers, reviewer, configs, now)
        record = await state.feedback_op(project, events, now, None)
        await state.writer.write(CompleteItem(project, name, item_id, reviewer, record, now))
    except PlauditError as error:
        details = "; ".join(i.message for i in error.issues) or error.detail
        return _again(back, skip, details)
    return _again(back, skip, "")


def _again(back: str, skip: str, error: str) -> Response[Any]:
    query = {k: v for k, v in (("skip", skip), ("error", error)) if v}
    return Redirect(f"{back}?{urlencode(query)}" if query else back, status_code=303)


PAGES = [queues_page, review_page, complete_form]
