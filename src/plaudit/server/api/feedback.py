"""`/v1/feedback`: ingest (single, batch, beacon), list, read with history, delete."""

from datetime import UTC, datetime
from typing import Annotated, Any, Final

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.params import FromPath, FromQuery, QueryParameter

from plaudit.core import limits
from plaudit.core.access import Principal, Scope
from plaudit.core.feedback import Source
from plaudit.core.feedback_tokens import is_feedback_token
from plaudit.core.ids import is_event_id
from plaudit.core.query.model import Filter, QueryError
from plaudit.core.query.params import UnknownParameters, listing_filters
from plaudit.core.validation import Issue
from plaudit.errors import Conflict, NotFound, ValidationFailed
from plaudit.ingest.feedback import Checked, check_items, decode_body
from plaudit.server.api.feedback_tokens import enforce_claims, feedback_token_principal
from plaudit.server.api.query import (
    bad_query,
    export_format,
    listing_window,
    stream_feedback_export,
)
from plaudit.server.auth import authenticate, bearer, require
from plaudit.server.bodies import read_body
from plaudit.server.cursors import decode_cursor, encode_cursor
from plaudit.server.metrics import FEEDBACK_EVENTS
from plaudit.server.state import JSON, ServerState, state_of
from plaudit.store.event_search import events_page
from plaudit.store.feedback import (
    DeleteFeedback,
    Status,
    get_feedback,
    row_to_event,
)
from plaudit.store.schema import to_micros


def _project_of(principal: Principal) -> Any:
    def pick(raw: Any) -> str | Issue:
        wanted = raw.get("project") if isinstance(raw, dict) else None
        if wanted is None or wanted == principal.project or principal.token_id is None:
            return wanted if isinstance(wanted, str) else principal.project
        return Issue("/project", f"this token belongs to project {principal.project!r}")

    return pick


async def _load_rules(state: ServerState, principal: Principal, items: list[Any]) -> None:
    # A token may write to its own project only (others are refused item by item), so only the
    # development mode's stand-in, which has no token, may make us look up the projects it names.
    named = _named_projects(items) if principal.token_id is None else set()
    for project in {principal.project} | named:
        await state.project_rules(project)


async def _store(
    state: ServerState, checked: Checked, principal: Principal, now: datetime
) -> dict[int, Status]:
    by_project: dict[str, list[tuple[int, Any]]] = {}
    for index, project, event in checked.events:
        by_project.setdefault(project, []).append((index, event))
    statuses: dict[int, Status] = {}
    for project, entries in by_project.items():
        events = [event for _, event in entries]
        stored = await state.store_feedback(project, events, now, principal)
        for (index, _), status in zip(entries, stored, strict=True):
            statuses[index] = status
    return statuses


@post(
    "/v1/feedback",
    summary="Send feedback: one event, a batch, or a sendBeacon body",
    status_code=200,
    tags=["feedback"],
    request_max_body_size=None,
)
async def post_feedback(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Store feedback durably, then answer each item's result.

    Results are `created`, `duplicate`, `revised` or `rejected` (with the reason).
    """
    state = state_of(request)
    raw = await read_body(request, limits.MAX_FEEDBACK_BODY_BYTES, "feedback_body_bytes")
    body = decode_body(raw, request.headers.get("content-type"))
    secret = bearer(request) or body.token
    if secret is not None and is_feedback_token(secret):
        principal, claims = await feedback_token_principal(request, state, secret)
        enforce_claims(claims, body.items)
    else:
        principal = await authenticate(request, state, body.token)
    require(principal, Scope.FEEDBACK_WRITE)
    now = datetime.now(UTC)
    await _load_rules(state, principal, body.items)
    checked = check_items(
        body,
        raw,
        now=now,
        project_of=_project_of(principal),
        configs=state.configs.load,
        forced_source=Source.END_USER if principal.browser_safe else None,
    )
    if not body.batch and checked.rejected:
        raise ValidationFailed("the feedback event is invalid", issues=checked.rejected[0])
    statuses = await _store(state, checked, principal, now) if checked.events else {}
    _refuse_foreign_revisions(checked, statuses, body.batch)
    if not body.batch and checked.rejected:
        raise Conflict(_NOT_YOURS, issues=checked.rejected[0])
    ids = {index: event.id for index, _, event in checked.events}
    results: list[dict[str, Any]] = []
    for index in range(len(body.items)):
        if index in checked.rejected:
            issues = checked.rejected[index]
            results.append(
                {"id": _raw_id(body.items[index]), "status": "rejected", "error": _error(issues)}
            )
            FEEDBACK_EVENTS.labels("rejected").inc()
        else:
            results.append({"id": ids[index], "status": statuses[index]})
            FEEDBACK_EVENTS.labels(statuses[index]).inc()
    return Response(msgspec.json.encode({"results": results}), media_type=JSON)


_NOT_YOURS: Final = (
    "an event with this id exists and was not sent by a browser token for the same user; "
    "a browser token may revise only its own users' feedback: send a new id"
)


def _refuse_foreign_revisions(checked: Checked, statuses: dict[int, Status], batch: bool) -> None:
    """Turn the store's `refused` into the item's rejection, pointing at its `id`."""
    for index, status in list(statuses.items()):
        if status == "refused":
            pointer = f"/feedback/{index}/id" if batch else "/id"
            checked.rejected[index] = [Issue(pointer, _NOT_YOURS)]
            del statuses[index]


def _named_projects(items: list[Any]) -> set[str]:
    return {
        i["project"] for i in items if isinstance(i, dict) and isinstance(i.get("project"), str)
    }


def _raw_id(item: Any) -> Any:
    return item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), str) else None


def _error(issues: list[Issue]) -> dict[str, Any]:
    return {
        "detail": "; ".join(f"{i.pointer or '/'}: {i.message}" for i in issues),
        "errors": [{"pointer": i.pointer, "detail": i.message} for i in issues],
    }


def _when(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(
            f"`{name}` must be an RFC 3339 time", issues=[Issue(f"/{name}", "not an RFC 3339 time")]
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _listing_filters(request: Request[Any, Any, Any]) -> list[Filter]:
    """Every filter of the query string; 422 naming unknown or unusable parameters, 400 for a
    malformed `q` (as malformed query text is everywhere)."""
    params = list(request.query_params.multi_items())
    for key, value in params:
        if "\x00" in value:
            raise ValidationFailed(
                f"`{key}` holds a NUL character", issues=[Issue(f"/{key}", "must not contain NUL")]
            )
    try:
        return listing_filters(params)
    except UnknownParameters as unknown:
        message = "not a parameter of this list: filter by a field of the query model, or use q"
        raise ValidationFailed(
            f"unknown parameters: {', '.join(unknown.names)}; see docs/query.md#listing-filters",
            issues=[Issue(f"/{name}", message) for name in unknown.names],
        ) from None
    except QueryError as error:
        if error.pointer == "/q":
            raise bad_query(error, "/q") from None
        raise ValidationFailed(
            f"{error.pointer}: {error.message}", issues=[Issue(error.pointer, error.message)]
        ) from None


# The field parameters are declared for the API document only: every filter, these and paths
# such as `metadata.plan` or `scores.relevance`, is read from the query string by
# `_listing_filters`, which also refuses the parameters it does not know.
@get("/v1/feedback", summary="List feedback, newest first", tags=["feedback"])
async def list_feedback_events(
    request: Request[Any, Any, Any],
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    cursor: FromQuery[str | None] = None,
    since: FromQuery[str | None] = None,
    until: FromQuery[str | None] = None,
    q: FromQuery[str | None] = None,
    name: FromQuery[str | None] = None,
    capability: FromQuery[str | None] = None,
    step: FromQuery[str | None] = None,
    kind: FromQuery[str | None] = None,
    source: FromQuery[str | None] = None,
    user_id: FromQuery[str | None] = None,
    trace_id: FromQuery[str | None] = None,
    span_id: FromQuery[str | None] = None,
    conversation_id: FromQuery[str | None] = None,
    link_status: FromQuery[str | None] = None,
    signal_type: FromQuery[str | None] = None,
    value: FromQuery[str | None] = None,
    tags: FromQuery[str | None] = None,
) -> Response[Any]:
    """Each field parameter is an exact match: any field of the query model, including paths
    (`metadata.plan=pro`, `scores.relevance=0.5`); `value` and paths read numbers and booleans
    as such (`value=-1`). `q` takes conditions in the `where` language of `POST /v1/query`.
    `since`/`until` bound `timestamp`. An unknown parameter is refused (422), never ignored."""
    state = state_of(request)
    principal = await authenticate(request, state)
    require(principal, Scope.READ)
    filters = _listing_filters(request)
    after = decode_cursor(cursor) if cursor else None
    window = listing_window(_when("since", since), _when("until", until))
    if (export := export_format(request)) is not None:
        return await stream_feedback_export(request, principal, export, filters, window)
    rows = await state.read(events_page, principal.project, filters, window, after, limit + 1, True)
    items = [row_to_event(row) for row in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = encode_cursor((to_micros(last["timestamp"]), last["id"])) if last else None
    return Response(
        msgspec.json.encode({"items": items, "next_cursor": next_cursor}), media_type=JSON
    )


@get(
    "/v1/feedback/{event_id:str}", summary="One feedback event with its history", tags=["feedback"]
)
async def get_feedback_event(
    request: Request[Any, Any, Any], event_id: FromPath[str]
) -> Response[bytes]:
    """The current version and, under `history`, the past ones."""
    state = state_of(request)
    principal = await authenticate(request, state)
    require(principal, Scope.READ)

    event = (
        await state.read(get_feedback, principal.project, event_id)
        if is_event_id(event_id)
        else None
    )
    if event is None:
        raise NotFound(f"no feedback event {event_id!r} in project {principal.project!r}")
    return Response(msgspec.json.encode(event), media_type=JSON)


@delete(
    "/v1/feedback/{event_id:str}",
    summary="Delete a feedback event",
    tags=["feedback"],
    status_code=204,
)
async def delete_feedback_event(request: Request[Any, Any, Any], event_id: FromPath[str]) -> None:
    """Removes the event; its last version stays in the history (secret tokens only)."""
    state = state_of(request)
    principal = await authenticate(request, state)
    if principal.browser_safe:
        require(principal, Scope.ADMIN)
    require(principal, Scope.FEEDBACK_WRITE)
    op = DeleteFeedback(principal.project, event_id, datetime.now(UTC), principal.token_id)
    if not is_event_id(event_id) or not await state.writer.write(op):
        raise NotFound(f"no feedback event {event_id!r} in project {principal.project!r}")
