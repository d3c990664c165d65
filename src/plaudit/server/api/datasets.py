"""`/v1/datasets`: datasets, their examples (added, patched, removed, exported, imported) and
versions."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Stream

from plaudit.core import limits
from plaudit.core.datasets import DatasetName
from plaudit.core.validation import Issue
from plaudit.errors import NotFound, ValidationFailed
from plaudit.ingest.feedback import media_type
from plaudit.loop.dataset_files import (
    EXPORT_PAGE,
    csv_header,
    csv_page,
    decoded,
    ndjson_items,
    ndjson_lines,
    text_pages,
)
from plaudit.loop.datasets import (
    AddExamples,
    Prepared,
    checked_examples,
    patch_example,
    prepare,
    remove_example,
    results_of,
    store_prepared,
)
from plaudit.server.api.loop_requests import (
    checked_name,
    decode_name_cursor,
    editor,
    encode_name_cursor,
    page_of,
    reader,
)
from plaudit.server.api.query import export_format
from plaudit.server.bodies import decode_json, read_body
from plaudit.server.state import JSON, ServerState, state_of
from plaudit.store.datasets import (
    create_dataset,
    dataset_row,
    delete_dataset,
    example_texts,
    get_dataset,
    list_datasets,
    list_versions,
    with_id,
)
from plaudit.store.writer import Call

Limit = Annotated[int, QueryParameter(ge=1, le=1000)]
MAX_IMPORT_BYTES = 64 * 1024 * 1024


class DatasetIn(msgspec.Struct, forbid_unknown_fields=True):
    """A dataset to create."""

    name: DatasetName
    description: str | None = None


def _json(body: Any, status: int = 200) -> Response[bytes]:
    return Response(msgspec.json.encode(body), media_type=JSON, status_code=status)


async def _existing(state: ServerState, project: str, name: str) -> Any:
    row = await state.read(dataset_row, project, checked_name(name))
    if row is None:
        raise NotFound(f"no dataset {name!r} in project {project!r}")
    return row


@post("/v1/datasets", summary="Create a dataset", tags=["datasets"], status_code=201)
async def post_dataset(request: Request[Any, Any, Any]) -> Response[bytes]:
    """`{"name","description"?}` → the dataset at version 0; 409 if the name exists."""
    principal = await editor(request)
    body: DatasetIn = decode_json(
        await request.body(), DatasetIn, request.headers.get("content-type")
    )
    now = datetime.now(UTC)
    created = await state_of(request).writer.write(
        Call(lambda c: create_dataset(c, principal.project, body.name, body.description, now))
    )
    return _json(created, 201)


@get("/v1/datasets", summary="List datasets", tags=["datasets"])
async def get_datasets(
    request: Request[Any, Any, Any], limit: Limit = 100, cursor: FromQuery[str | None] = None
) -> Response[bytes]:
    """Datasets by name, `{"items","next_cursor"}`."""
    principal = await reader(request)
    after = decode_name_cursor(cursor)
    items = await state_of(request).read(list_datasets, principal.project, after, limit + 1)
    return _json(page_of(items, limit, "name"))


@get("/v1/datasets/{name:str}", summary="One dataset", tags=["datasets"])
async def get_one_dataset(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    """The dataset with its newest version and count."""
    principal = await reader(request)
    found = await state_of(request).read(get_dataset, principal.project, checked_name(name))
    if found is None:
        raise NotFound(f"no dataset {name!r} in project {principal.project!r}")
    return _json(found)


@delete("/v1/datasets/{name:str}", summary="Delete a dataset", tags=["datasets"], status_code=204)
async def delete_one_dataset(request: Request[Any, Any, Any], name: FromPath[str]) -> None:
    """Removes the dataset with every version."""
    principal = await editor(request)
    checked_name(name)
    removed = await state_of(request).writer.write(
        Call(lambda c: delete_dataset(c, principal.project, name))
    )
    if not removed:
        raise NotFound(f"no dataset {name!r} in project {principal.project!r}")


async def _prepared(request: Request[Any, Any, Any], project: str) -> Prepared:
    content_type = request.headers.get("content-type")
    if media_type(content_type) == "application/x-ndjson":
        body = await read_body(request, MAX_IMPORT_BYTES, "import_body_bytes")
        return checked_examples(ndjson_items(body), "")
    raw = await read_body(request, limits.MAX_FEEDBACK_BODY_BYTES, "feedback_body_bytes")
    add: AddExamples = decode_json(raw, AddExamples, content_type)
    return await state_of(request).read(prepare, project, add)


@post(
    "/v1/datasets/{name:str}/examples",
    summary="Add examples: a list, from feedback, from a trace, or an NDJSON import",
    tags=["datasets"],
    status_code=200,
    request_max_body_size=None,
)
async def post_examples(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    """One new version when anything changed; each item's result in order."""
    principal = await editor(request)
    state = state_of(request)
    await _existing(state, principal.project, name)
    prepared = await _prepared(request, principal.project)
    now = datetime.now(UTC)
    applied = await state.writer.write(
        Call(lambda c: store_prepared(c, principal.project, name, prepared, now))
    )
    return _json(results_of(prepared, applied))


@patch("/v1/datasets/{name:str}/examples/{example_id:str}", tags=["datasets"])
async def patch_one_example(
    request: Request[Any, Any, Any], name: FromPath[str], example_id: FromPath[str]
) -> Response[bytes]:
    """Deep-merge (JSON merge patch) into one example; a new version if anything changed."""
    principal = await editor(request)
    state = state_of(request)
    await _existing(state, principal.project, name)
    try:
        raw = msgspec.json.decode(await request.body())
    except msgspec.DecodeError:
        raise ValidationFailed("the body is not JSON") from None
    now = datetime.now(UTC)
    patched = await state.writer.write(
        Call(lambda c: patch_example(c, principal.project, name, example_id, raw, now))
    )
    return _json(patched)


@delete(
    "/v1/datasets/{name:str}/examples/{example_id:str}",
    tags=["datasets"],
    status_code=200,
)
async def delete_one_example(
    request: Request[Any, Any, Any], name: FromPath[str], example_id: FromPath[str]
) -> Response[bytes]:
    """Remove one example from the next version; earlier versions keep it."""
    principal = await editor(request)
    state = state_of(request)
    await _existing(state, principal.project, name)
    now = datetime.now(UTC)
    version = await state.writer.write(
        Call(lambda c: remove_example(c, principal.project, name, example_id, now))
    )
    return _json({"version": version})


@get("/v1/datasets/{name:str}/versions", summary="A dataset's versions", tags=["datasets"])
async def get_versions(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    """Every version, newest first, with how many examples it added, revised and removed."""
    principal = await reader(request)
    state = state_of(request)
    await _existing(state, principal.project, name)
    items = await state.read(list_versions, principal.project, name)
    return _json({"items": items, "next_cursor": None})


def _version(row: Any, version: int | None) -> int:
    if version is None:
        return int(row["version"])
    if not 0 <= version <= row["version"]:
        problem = f"versions of this dataset run from 0 to {row['version']}"
        raise NotFound(f"version {version}: {problem}")
    return version


@get("/v1/datasets/{name:str}/examples", summary="Examples of any version", tags=["datasets"])
async def get_examples(
    request: Request[Any, Any, Any],
    name: FromPath[str],
    version: FromQuery[int | None] = None,
    annotation_status: FromQuery[str | None] = None,
    limit: Limit = 100,
    cursor: FromQuery[str | None] = None,
) -> Response[Any]:
    """A page of a version (the newest by default); `Accept` NDJSON or CSV streams it all."""
    principal = await reader(request)
    state = state_of(request)
    at = _version(await _existing(state, principal.project, name), version)
    if annotation_status not in (None, "empty", "filled"):
        raise ValidationFailed(
            "annotation_status is empty or filled",
            issues=[Issue("/annotation_status", "must be 'empty' or 'filled'")],
        )
    args = (principal.project, name, at, annotation_status)
    if (export := export_format(request)) is not None:
        return _stream(state, args, export.value)
    rows = await state.read(example_texts, *args, decode_name_cursor(cursor), limit + 1)
    more = len(rows) > limit
    page = {"next_cursor": encode_name_cursor(rows[limit - 1][0]) if more else None, "version": at}
    items = b",".join(with_id(example_id, content) for example_id, content in rows[:limit])
    body = b'{"items":[' + items + b"]," + msgspec.json.encode(page)[1:]
    return Response(body, media_type=JSON)


def _stream(state: ServerState, args: tuple[str, str, int, str | None], kind: str) -> Stream:
    project, name, version, status = args

    def read(after: str | None) -> list[tuple[str, bytes]]:
        with state.engine.connect() as connection:
            return example_texts(connection, project, name, version, status, after, EXPORT_PAGE)

    async def body() -> AsyncIterator[bytes]:
        if kind == "csv":
            yield csv_header()
        iterator = text_pages(read)
        while (page := await anyio.to_thread.run_sync(next, iterator, None)) is not None:
            yield csv_page(decoded(page)) if kind == "csv" else ndjson_lines(page)

    media = "text/csv; charset=utf-8" if kind == "csv" else "application/x-ndjson"
    return Stream(body(), media_type=media)


ROUTES = [
    post_dataset,
    get_datasets,
    get_one_dataset,
    delete_one_dataset,
    post_examples,
    get_examples,
    patch_one_example,
    delete_one_example,
    get_versions,
]
