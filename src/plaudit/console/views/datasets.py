"""`/datasets`, `/datasets/{name}` (versions, examples, a diff of two versions) and the "Add to
dataset" form of the feedback explorer and the trace page."""

from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote, urlencode

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect
from sqlalchemy import Connection

from plaudit.console import explorer
from plaudit.console.loop_pages import (
    DatasetPage,
    DatasetRow,
    DatasetsPage,
    DiffRow,
    ExampleRow,
    VersionRow,
)
from plaudit.console.pages import ErrorPage
from plaudit.console.render import page, pretty, started, when
from plaudit.console.views.common import checked_form, chrome, signed_in
from plaudit.core.dataset_mapping import check_mapping, map_span
from plaudit.core.ids import is_span_id, is_trace_id
from plaudit.core.query.model import QueryError
from plaudit.errors import PlauditError
from plaudit.loop.datasets import Prepared, store_prepared
from plaudit.store.dataset_sources import span_facts_for_feedback, span_facts_for_trace
from plaudit.store.datasets import (
    create_dataset,
    dataset_row,
    examples_at,
    list_datasets,
    list_versions,
)
from plaudit.store.writer import Call

PAGE_SIZE: Final = 50
DIFF_LIMIT: Final = 10_000
NAME_CHARS: Final = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else pretty(value)


def _example(item: dict[str, Any]) -> ExampleRow:
    source = item.get("source") or {}
    return ExampleRow(
        id=item["id"], input=_text(item["input"]), output=_text(item["output"]),
        expected=_text(item["expected"]), metadata=_text(item["metadata"]),
        annotation_status=item["annotation_status"], trace_id=source.get("trace_id"),
    )  # fmt: skip


@get("/datasets", include_in_schema=False)
async def datasets_page(request: Request[Any, Any, Any]) -> Response[str]:
    """Every dataset with its newest version and size."""
    since = started()
    state, session = signed_in(request)
    found = await state.read(list_datasets, session.project, None, 1000)
    rows = [
        DatasetRow(d["name"], d["description"] or "", d["version"], d["count"],
                   when(d["created_at"]))
        for d in found
    ]  # fmt: skip
    context = DatasetsPage(rows, request.query_params.get("message", ""))
    return page("datasets.html", since, chrome(session, "Datasets", "datasets"), context)


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def _diff(connection: Connection, project: str, name: str, old: int, new: int) -> list[DiffRow]:
    before = {
        e["id"]: e for e in examples_at(connection, project, name, old, None, None, DIFF_LIMIT)
    }
    after = {
        e["id"]: e for e in examples_at(connection, project, name, new, None, None, DIFF_LIMIT)
    }
    rows = []
    for example_id in sorted(before.keys() | after.keys()):
        was, now = before.get(example_id), after.get(example_id)
        if was == now:
            continue
        change = "added" if was is None else "removed" if now is None else "changed"
        rows.append(
            DiffRow(example_id, change, pretty(was) if was else "", pretty(now) if now else "")
        )
    return rows


def _read_dataset(
    connection: Connection, project: str, name: str, query: dict[str, str]
) -> DatasetPage | None:
    row = dataset_row(connection, project, name)
    if row is None:
        return None
    newest = row["version"]
    version = min(_int(query.get("version")) or newest, newest)
    after = query.get("after") or None
    items = examples_at(connection, project, name, version, None, after, PAGE_SIZE + 1)
    next_url = None
    if len(items) > PAGE_SIZE:
        next_url = "?" + urlencode({"version": version, "after": items[PAGE_SIZE - 1]["id"]})
    old, new = _int(query.get("from")), _int(query.get("to"))
    diff = (
        _diff(connection, project, name, old, new) if old is not None and new is not None else None
    )
    return DatasetPage(
        name=name, description=row["description"] or "", newest=newest, version=version,
        versions=[VersionRow(v["version"], when(v["created_at"]), v["added"], v["revised"],
                             v["removed"]) for v in list_versions(connection, project, name)],
        examples=[_example(e) for e in items[:PAGE_SIZE]], next_url=next_url,
        diff_from=old, diff_to=new, diff=diff, message=query.get("message", ""),
    )  # fmt: skip


@get("/datasets/{name:str}", include_in_schema=False)
async def dataset_page(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[str]:
    """One dataset: versions, a version's examples, and `?from=&to=` a diff of two versions."""
    since = started()
    state, session = signed_in(request)
    query = {k: str(v) for k, v in request.query_params.items()}
    context = await state.read(_read_dataset, session.project, name, query)
    if context is None:
        problem = ErrorPage(404, f"There is no dataset named {name}.")
        return page(
            "error.html", since, chrome(session, "Not found", "datasets"), problem, status=404
        )
    return page("dataset.html", since, chrome(session, name, "datasets"), context)


def _mapping(text: str) -> dict[str, str]:
    pairs = [line.partition("=") for line in text.splitlines() if line.strip()]
    return {column.strip(): source.strip() for column, _, source in pairs}


def _spans(connection: Connection, project: str, fields: dict[str, str]) -> list[Any]:
    trace_id, span_id = fields.get("trace_id", ""), fields.get("span_id") or None
    if trace_id:
        if not is_trace_id(trace_id) or (span_id is not None and not is_span_id(span_id)):
            raise ValueError("That is not a trace and span id.")
        facts = span_facts_for_trace(connection, project, trace_id, span_id)
        if facts is None:
            raise ValueError("That span is not stored.")
        return [facts]
    params = {k: v for k, v in fields.items() if k in explorer.PARAMS and v}
    chosen = explorer.selection(params)
    # Everything a mapping could read: the console's selections are small.
    every_field = frozenset({"trace", "metadata"})
    return span_facts_for_feedback(
        connection, project, chosen.filters, chosen.window, None, every_field
    )


@post("/datasets/add", include_in_schema=False, status_code=303)
async def add_to_dataset(request: Request[Any, Any, Any]) -> Response[Any]:
    """Add one span (`trace_id`, `span_id`) or every span the explorer's filters match to a
    dataset (made if it does not exist), with an optional `column=source` mapping per line."""
    state, session, fields = await checked_form(request)
    name = fields.get("dataset", "").strip()
    if not name or len(name) > 128 or not set(name) <= NAME_CHARS:
        return _refused("Name the dataset with letters, digits, _ . or -.")
    mapping = check_mapping(_mapping(fields.get("mapping", "")))
    if isinstance(mapping, list):
        return _refused("; ".join(f"{i.pointer}: {i.message}" for i in mapping))
    project, now = session.project, datetime.now(UTC)
    try:
        found = await state.read(_spans, project, fields)
    except (ValueError, QueryError) as error:
        return _refused(str(error))
    examples = [map_span(facts, mapping) for facts in found]

    def store(connection: Connection) -> int:
        if dataset_row(connection, project, name) is None:
            create_dataset(connection, project, name, None, now)
        prepared = Prepared(examples, from_spans=True)
        return store_prepared(connection, project, name, prepared, now).version

    try:
        version = await state.writer.write(Call(store))
    except PlauditError as error:
        return _refused(error.detail)
    message = f"Added {len(examples)} spans; {name} is at version {version}."
    return Redirect(f"/datasets/{quote(name)}?{urlencode({'message': message})}", status_code=303)


def _refused(message: str) -> Response[Any]:
    """Back to the datasets page, which shows why."""
    return Redirect(f"/datasets?{urlencode({'message': message})}", status_code=303)


PAGES = [datasets_page, dataset_page, add_to_dataset]
