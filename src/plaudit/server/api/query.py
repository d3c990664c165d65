"""`POST /v1/query`, `GET /v1/traces` (search), and the streaming export of `GET /v1/feedback`."""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream

from plaudit.analytics.export import MEDIA_TYPES, Encoder, ExportFormat, page_reader
from plaudit.analytics.run import run_query
from plaudit.core.access import Principal, Scope
from plaudit.core.query.fields import TRACE_ROOTS
from plaudit.core.query.model import Filter, Query, QueryError
from plaudit.core.query.structured import from_structured
from plaudit.core.query.text import parse_filters, parse_query
from plaudit.core.times import rfc3339
from plaudit.core.validation import Issue
from plaudit.errors import BadRequest
from plaudit.server.auth import authenticate, require
from plaudit.server.cursors import decode_cursor, encode_cursor
from plaudit.server.state import JSON, state_of
from plaudit.store.event_search import Position, search_traces
from plaudit.store.schema import from_micros, to_micros
from plaudit.store.sql_aggregate import Window


def bad_query(error: QueryError, pointer: str) -> BadRequest:
    """A query error as a 400 that points at the field and, in text, the position."""
    where = f" at position {error.position}" if error.position is not None else ""
    message = f"{error.message}{where}"
    issue = Issue(error.pointer or pointer, message)
    return BadRequest(f"the query is malformed: {message}", issues=[issue])


def query_of(raw: Any) -> Query:
    """The query a request body holds: `{"query": "<text>"}` or the structured form."""
    if not isinstance(raw, dict):
        raise BadRequest('the body must be a JSON object: {"query": "…"} or the structured form')
    if "query" in raw:
        if not isinstance(raw["query"], str) or len(raw) != 1:
            raise BadRequest('the text form is {"query": "<text>"} and nothing else')
        try:
            return parse_query(raw["query"])
        except QueryError as error:
            raise bad_query(error, "/query") from None
    try:
        return from_structured(raw)
    except QueryError as error:
        raise bad_query(error, "/") from None


def _decoded(body: bytes) -> Any:
    """The JSON of a query body; 400 when it is not JSON or nested past what the decoder takes."""
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as error:
        raise BadRequest(f"the body is not JSON: {error}") from None
    except RecursionError:
        # msgspec refuses nesting past its depth limit this way; a query is never that deep.
        raise BadRequest("the body is nested too deeply to be a query") from None


@post("/v1/query", summary="Aggregate feedback", tags=["query"], status_code=200)
async def post_query(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Filters, group-by and metrics, in the text form or the structured form.

    Answers `{"columns": [{"name", "type"}], "rows": [[…]]}`.
    """
    state = state_of(request)
    principal = await authenticate(request, state)
    require(principal, Scope.READ)
    query = query_of(_decoded(await request.body()))

    def run() -> dict[str, Any]:
        with state.engine.connect() as connection:
            return run_query(connection, query, principal.project).to_json()

    try:
        answer = await anyio.to_thread.run_sync(run)
    except QueryError as error:
        raise bad_query(error, "/") from None
    return Response(msgspec.json.encode(answer), media_type=JSON)


@get("/v1/traces", summary="Search traces by span attributes and feedback", tags=["traces"])
async def search_traces_route(
    request: Request[Any, Any, Any],
    q: FromQuery[str] = "",
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 50,
    cursor: FromQuery[str | None] = None,
) -> Response[bytes]:
    """`q` holds conditions joined by `and`, e.g. `feedback.response-quality = -1 and
    span.gen_ai.request.model = "gpt-x"`. Newest match first, `limit` at a time."""
    state = state_of(request)
    principal = await authenticate(request, state)
    require(principal, Scope.READ)
    try:
        filters = parse_filters(q, TRACE_ROOTS)
    except QueryError as error:
        raise bad_query(error, "/q") from None
    after = decode_cursor(cursor) if cursor else None

    def read() -> Any:
        with state.engine.connect() as connection:
            return search_traces(connection, principal.project, filters, after, limit + 1)

    hits = await anyio.to_thread.run_sync(read)
    items = [{"trace_id": h.trace_id, "matched_at": _iso(h.matched_at)} for h in hits[:limit]]
    more = len(hits) > limit
    next_cursor = (
        encode_cursor((hits[limit - 1].matched_at, hits[limit - 1].trace_id)) if more else None
    )
    return Response(
        msgspec.json.encode({"items": items, "next_cursor": next_cursor}), media_type=JSON
    )


def _iso(micros: int) -> str:
    return rfc3339(from_micros(micros))


def export_format(request: Request[Any, Any, Any]) -> ExportFormat | None:
    """The export an `Accept` header asks for (CSV or NDJSON), or None for the JSON listing."""
    accept = request.headers.get("accept", "").lower()
    if "text/csv" in accept:
        return ExportFormat.CSV
    if "application/x-ndjson" in accept:
        return ExportFormat.NDJSON
    return None


def listing_window(since: datetime | None, until: datetime | None) -> Window:
    """`GET /v1/feedback`'s time range, in the query model."""
    return Window(
        to_micros(since) if since is not None else None,
        to_micros(until) if until is not None else None,
    )


async def stream_feedback_export(
    request: Request[Any, Any, Any],
    principal: Principal,
    format: ExportFormat,
    filters: list[Filter],
    window: Window,
) -> Stream:
    """Every event matching the listing's filters, oldest first, streamed in constant memory.

    `GET /v1/feedback` hands over here when `Accept` asks for CSV or NDJSON (`export_format`),
    after it has authenticated the caller.
    """
    state = state_of(request)
    require(principal, Scope.READ)
    raw = format is ExportFormat.NDJSON
    read = page_reader(state.engine.connect, principal.project, filters, window, raw=raw)
    encoder = Encoder(format)

    def encoded(after: Position | None) -> tuple[bytes, Position | None]:
        page = read(after)
        return encoder.page(page.events), page.end

    async def body() -> AsyncIterator[bytes]:
        yield encoder.header()
        chunk, end = await anyio.to_thread.run_sync(encoded, None)
        while end is not None:
            # The next page is read and encoded in a worker thread while this one is sent, so
            # the database and the client work at the same time; two pages at most are held.
            following = asyncio.create_task(anyio.to_thread.run_sync(encoded, end))
            try:
                yield chunk
            except GeneratorExit:
                following.cancel()
                raise
            chunk, end = await following
        if chunk:
            yield chunk

    return Stream(body(), media_type=MEDIA_TYPES[format])
