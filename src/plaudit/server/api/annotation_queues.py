"""`/v1/annotation-queues`: queues that fill from a filter or by hand, their items, reviewers'
holds and completions."""

from datetime import UTC, datetime
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Request, Response, delete, get, post
from litestar.params import FromPath, FromQuery, QueryParameter

from plaudit.core.access import Principal
from plaudit.core.validation import Issue
from plaudit.errors import NotFound, ValidationFailed
from plaudit.loop.annotations import CompleteItem, Completion, answer_events
from plaudit.loop.queue_setup import QueueIn, add_targets, checked_queue, setup_queue
from plaudit.server.api.loop_requests import (
    checked_name,
    decode_name_cursor,
    editor,
    page_of,
    reader,
)
from plaudit.server.bodies import decode_json, json_body
from plaudit.server.state import JSON, ServerState, state_of
from plaudit.store.annotation_queues import (
    counts,
    delete_queue,
    hold_next,
    item_json,
    item_row,
    list_items,
    list_queues,
    queue_json,
    queue_row,
    token_name,
)
from plaudit.store.datasets import dataset_row
from plaudit.store.writer import Call

Limit = Annotated[int, QueryParameter(ge=1, le=1000)]


class ItemsIn(msgspec.Struct, forbid_unknown_fields=True):
    """Items to add by hand."""

    items: Annotated[list[dict[str, Any]], msgspec.Meta(max_length=1000)]


class NextIn(msgspec.Struct, forbid_unknown_fields=True):
    """Ask for the next item to review, passing over `skip`."""

    skip: list[str] = []


def _json(body: Any, status: int = 200) -> Response[bytes]:
    return Response(msgspec.json.encode(body), media_type=JSON, status_code=status)


async def _queue(state: ServerState, project: str, name: str) -> Any:
    row = await state.read(queue_row, project, checked_name(name))
    if row is None:
        raise NotFound(f"no annotation queue {name!r} in project {project!r}")
    return row


async def _known_dataset(state: ServerState, project: str, body: QueueIn) -> list[str]:
    """The fill's dataset, when it exists (a queue may only fill an existing one)."""
    wanted = body.fill.dataset if body.fill is not None else None
    if wanted is None or await state.read(dataset_row, project, wanted) is None:
        return []
    return [wanted]


async def reviewer_of(state: ServerState, principal: Principal) -> str:
    """Who completes items: the token's name, else its id (`dev` in development mode)."""
    if principal.token_id is None:
        return "dev"
    name = await state.read(token_name, principal.token_id)
    return name or principal.token_id


@post(
    "/v1/annotation-queues", summary="Create an annotation queue", tags=["queues"], status_code=201
)
async def post_queue(request: Request[Any, Any, Any]) -> Response[bytes]:
    """`{"name","feedback_names","instructions"?,"fill"?}`; with `fill`, matching spans are
    queued now and as feedback arrives. 409 if the name exists."""
    principal = await editor(request)
    state = state_of(request)
    body: QueueIn = await json_body(request, QueueIn)
    configs = await anyio.to_thread.run_sync(state.configs.load, principal.project)
    settings = checked_queue(body, configs, await _known_dataset(state, principal.project, body))
    now = datetime.now(UTC)
    created = await state.writer.write(
        Call(lambda c: setup_queue(c, principal.project, body.name, settings, now))
    )
    return _json(created, 201)


@get("/v1/annotation-queues", summary="List annotation queues", tags=["queues"])
async def get_queues(
    request: Request[Any, Any, Any], limit: Limit = 100, cursor: FromQuery[str | None] = None
) -> Response[bytes]:
    """Queues by name, each with its pending and done counts."""
    principal = await reader(request)
    after = decode_name_cursor(cursor)
    items = await state_of(request).read(list_queues, principal.project, after, limit + 1)
    return _json(page_of(items, limit, "name"))


@get("/v1/annotation-queues/{name:str}", summary="One annotation queue", tags=["queues"])
async def get_one_queue(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    """The queue with `counts: {pending, done}`."""
    principal = await reader(request)
    state = state_of(request)
    row = await _queue(state, principal.project, name)
    counted = await state.read(counts, principal.project, [name])
    return _json(queue_json(row, counted[name]))


@delete(
    "/v1/annotation-queues/{name:str}",
    summary="Delete an annotation queue",
    tags=["queues"],
    status_code=204,
)
async def delete_one_queue(request: Request[Any, Any, Any], name: FromPath[str]) -> None:
    """Removes the queue and its items (the feedback its reviewers gave stays)."""
    principal = await editor(request)
    checked_name(name)
    removed = await state_of(request).writer.write(
        Call(lambda c: delete_queue(c, principal.project, name))
    )
    if not removed:
        raise NotFound(f"no annotation queue {name!r} in project {principal.project!r}")


@post(
    "/v1/annotation-queues/{name:str}/items",
    summary="Add items by hand",
    tags=["queues"],
    status_code=200,
)
async def post_items(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    """`{"items":[{"trace_id","span_id"?} | {"dataset","example_id"}]}`; each item's result."""
    principal = await editor(request)
    state = state_of(request)
    await _queue(state, principal.project, name)
    body: ItemsIn = await json_body(request, ItemsIn)
    now = datetime.now(UTC)
    results = await state.writer.write(
        Call(lambda c: add_targets(c, principal.project, name, body.items, now))
    )
    return _json({"results": results})


@get("/v1/annotation-queues/{name:str}/items", summary="A queue's items", tags=["queues"])
async def get_items(
    request: Request[Any, Any, Any],
    name: FromPath[str],
    status: FromQuery[str | None] = None,
    limit: Limit = 100,
    cursor: FromQuery[str | None] = None,
) -> Response[bytes]:
    """Items by id, optionally `pending` or `done` only, with who did them and when."""
    principal = await reader(request)
    state = state_of(request)
    await _queue(state, principal.project, name)
    if status not in (None, "pending", "done"):
        problem = "must be 'pending' or 'done'"
        raise ValidationFailed(f"/status: {problem}", issues=[Issue("/status", problem)])
    after = decode_name_cursor(cursor)
    items = await state.read(list_items, principal.project, name, status, after, limit + 1)
    return _json(page_of(items, limit, "id"))


@post(
    "/v1/annotation-queues/{name:str}/items/next",
    summary="Hold the next pending item for the caller",
    tags=["queues"],
    status_code=200,
)
async def post_next(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    """The oldest pending item nobody else holds, held for the caller for a few minutes
    (`{"item": null}` when none is left)."""
    principal = await editor(request)
    state = state_of(request)
    await _queue(state, principal.project, name)
    raw = await request.body()
    body = decode_json(raw, NextIn, request.headers.get("content-type")) if raw else NextIn()
    reviewer = await reviewer_of(state, principal)
    now = datetime.now(UTC)
    row = await state.writer.write(
        Call(lambda c: hold_next(c, principal.project, name, reviewer, body.skip, now))
    )
    return _json({"item": item_json(row) if row is not None else None})


@post(
    "/v1/annotation-queues/{name:str}/items/{item_id:str}/complete",
    summary="Complete an item with the reviewer's answers",
    tags=["queues"],
    status_code=200,
)
async def post_complete(
    request: Request[Any, Any, Any], name: FromPath[str], item_id: FromPath[str]
) -> Response[bytes]:
    """Stores each answer as `source=annotator` feedback by the caller on the item's span,
    marks the item done and fills its dataset row; completing again revises the answers."""
    principal = await editor(request)
    state = state_of(request)
    queue = await _queue(state, principal.project, name)
    item = await state.read(item_row, principal.project, name, item_id)
    if item is None:
        raise NotFound(f"no item {item_id!r} in queue {name!r}")
    body: Completion = await json_body(request, Completion)
    configs = await anyio.to_thread.run_sync(state.configs.load, principal.project)
    reviewer = await reviewer_of(state, principal)
    now = datetime.now(UTC)
    events = answer_events(queue, item, body.feedback, reviewer, configs, now)
    record = await state.feedback_op(principal.project, events, now, principal.token_id)
    op = CompleteItem(principal.project, name, item_id, reviewer, record, now)
    return _json(await state.writer.write(op))


ROUTES = [
    post_queue,
    get_queues,
    get_one_queue,
    delete_one_queue,
    post_items,
    get_items,
    post_next,
    post_complete,
]
