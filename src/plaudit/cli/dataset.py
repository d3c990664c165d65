"""`plaudit dataset`: create, list, add to, export and import datasets, on the database (the same
rules as `/v1/datasets`, through the same code) or, with `--url`, through a running server's
`/v1/datasets`. Both print the API's shapes with `--json`."""

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import msgspec
import typer
from sqlalchemy import Connection, Engine

from plaudit.cli.db import CreateProject, DatabaseUrl, Json, open_engine
from plaudit.cli.output import Group, emit, fail
from plaudit.cli.problems import Exit
from plaudit.cli.query import Project
from plaudit.cli.remote import Token, Url, refuse_project, server
from plaudit.errors import PlauditError
from plaudit.loop.dataset_files import csv_header, csv_page, ndjson_items, ndjson_page, pages
from plaudit.loop.datasets import (
    AddExamples,
    FromFeedback,
    FromTrace,
    Prepared,
    checked_examples,
    prepare,
    results_of,
    store_prepared,
)
from plaudit.store.datasets import create_dataset, dataset_row, examples_at, list_datasets

if TYPE_CHECKING:
    from plaudit.sdk.loop import Datasets

app = typer.Typer(
    help="Datasets of examples: create, list, add, export, import.", no_args_is_help=True, cls=Group
)

T = TypeVar("T")
Name = Annotated[str, typer.Argument(help="The dataset's name.")]


def run(
    database_url: str | None,
    work: Callable[[Engine], T],
    project: str | None = None,
    create_project: bool | None = None,
) -> T:
    """`work` on the database (where `project` must exist, or is created with
    `create_project`); our errors become a message and exit code 1."""
    engine = open_engine(database_url, project, create_project)
    try:
        return work(engine)
    except PlauditError as error:
        details = "; ".join(f"{i.pointer}: {i.message}" for i in error.issues)
        raise fail(f"{error.detail}{f' ({details})' if details else ''}") from None
    finally:
        engine.dispose()


def _write(engine: Engine, change: Callable[[Connection], T]) -> T:
    with engine.begin() as connection:
        return change(connection)


@app.command()
def create(
    name: Name,
    description: Annotated[str | None, typer.Option(help="What the dataset is for.")] = None,
    project: Project = "default",
    create_project: CreateProject = False,
    database_url: DatabaseUrl = None,
    url: Url = None,
    token: Token = None,
    json: Json = False,
) -> None:
    """Create an empty dataset (version 0)."""
    if (remote := server(url, token, database_url)) is not None:
        refuse_project(project)
        made = remote.create(name, description)
    else:
        now = datetime.now(UTC)
        made = run(
            database_url,
            lambda e: _write(e, lambda c: create_dataset(c, project, name, description, now)),
            project,
            create_project,
        )
    emit(made, json, f"created dataset {name}")


@app.command("list")
def list_(
    project: Project = "default",
    database_url: DatabaseUrl = None,
    url: Url = None,
    token: Token = None,
    json: Json = False,
) -> None:
    """Every dataset with its version and example count (`--json`: `{"items": [...]}`)."""

    def read(engine: Engine) -> list[dict[str, Any]]:
        with engine.connect() as connection:
            return list_datasets(connection, project, None, 10_000)

    if (remote := server(url, token, database_url)) is not None:
        refuse_project(project)
        found = remote.list()
    else:
        found = run(database_url, read, project)
    lines = [f"{d['name']}  v{d['version']}  {d['count']} examples" for d in found]
    emit({"items": found}, json, "\n".join(lines) or "no datasets")


def _mapping(pairs: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, source = pair.partition("=")
        if not sep:
            raise fail(f"--map takes column=source, not {pair!r}", Exit.USAGE)
        mapping[column.strip()] = source.strip()
    return mapping


def _request(
    where: str | None, trace: str | None, span: str | None, file: Path | None, since: str | None,
    limit: int | None, mapping: list[str],
) -> AddExamples | list[Any]:  # fmt: skip
    chosen = [x for x in (where, trace, file) if x is not None]
    if len(chosen) != 1:
        raise fail("give exactly one of --where, --trace or --file", Exit.USAGE)
    if file is not None:
        return ndjson_items(file.read_bytes())
    if trace is not None:
        return AddExamples(from_trace=FromTrace(trace, span), mapping=_mapping(mapping) or None)
    spec = FromFeedback(where or "", since=since, limit=limit)
    return AddExamples(from_feedback=spec, mapping=_mapping(mapping) or None)


@app.command()
def add(
    name: Name,
    where: Annotated[str | None, typer.Option("--where", "-w", help="Feedback filter.")] = None,
    trace: Annotated[str | None, typer.Option(help="Add one span of this trace.")] = None,
    span: Annotated[str | None, typer.Option(help="The span (default: the root).")] = None,
    file: Annotated[Path | None, typer.Option(help="NDJSON file of examples.")] = None,
    since: Annotated[str | None, typer.Option(help="With --where: 7d, 24h or a time.")] = None,
    limit: Annotated[
        int | None, typer.Option(help="With --where: at most this many spans.")
    ] = None,
    map: Annotated[list[str], typer.Option("--map", help="column=source, e.g. input=span.q")] = [],  # noqa: B006
    project: Project = "default",
    database_url: DatabaseUrl = None,
    url: Url = None,
    token: Token = None,
    json: Json = False,
) -> None:
    """Add examples: one per span with feedback matching --where, one span of --trace, or the
    examples of an NDJSON --file. Makes one new version when anything changed."""
    request = _request(where, trace, span, file, since, limit, map)
    if (remote := server(url, token, database_url)) is not None:
        refuse_project(project)
        _show_added(name, _add_remotely(remote, name, request), json)
        return
    now = datetime.now(UTC)

    def work(engine: Engine) -> dict[str, Any]:
        with engine.begin() as connection:
            _require(connection, project, name)
            prepared: Prepared = (
                checked_examples(request, "")
                if isinstance(request, list)
                else prepare(connection, project, request)
            )
            return results_of(prepared, store_prepared(connection, project, name, prepared, now))

    _show_added(name, run(database_url, work, project), json)


def _show_added(name: str, answer: dict[str, Any], as_json: bool) -> None:
    statuses = [r["status"] for r in answer["results"]]
    counted = ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
    text = f"{name} is at version {answer['version']} ({counted or 'nothing to add'})"
    emit(answer, as_json, text)


def _add_remotely(
    remote: "Datasets", name: str, request: AddExamples | list[Any]
) -> dict[str, Any]:
    if isinstance(request, list):
        return remote.add(name, request)
    body = msgspec.to_builtins(request)
    return remote.add(
        name,
        from_feedback=body.get("from_feedback"),
        from_trace=body.get("from_trace"),
        mapping=body.get("mapping"),
    )


def _require(connection: Connection, project: str, name: str) -> Any:
    row = dataset_row(connection, project, name)
    if row is None:
        raise fail(f"no dataset {name!r} in project {project!r}")
    return row


@app.command()
def export(
    name: Name,
    version: Annotated[int | None, typer.Option(help="Default: the newest.")] = None,
    csv: Annotated[bool, typer.Option("--csv", help="CSV instead of NDJSON.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Default: stdout.")] = None,
    project: Project = "default",
    database_url: DatabaseUrl = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Write a version's examples as NDJSON (or CSV)."""
    if (remote := server(url, token, database_url)) is not None:
        refuse_project(project)
        accept = {"accept": "text/csv" if csv else "application/x-ndjson"}
        params = {"version": version} if version is not None else {}
        path = f"/v1/datasets/{name}/examples"
        sink = output.open("wb") if output is not None else sys.stdout.buffer
        try:
            for chunk in remote.stream("GET", path, params=params, headers=accept):
                sink.write(chunk)
        finally:
            sink.close() if output is not None else sink.flush()
        return

    def work(engine: Engine) -> None:
        with engine.connect() as connection:
            row = _require(connection, project, name)
            at = row["version"] if version is None else version
            sink = output.open("wb") if output is not None else sys.stdout.buffer
            try:
                if csv:
                    sink.write(csv_header())

                def read(after: str | None) -> list[dict[str, Any]]:
                    return examples_at(connection, project, name, at, None, after, 1_000)

                for page in pages(read):
                    sink.write(csv_page(page) if csv else ndjson_page(page))
            finally:
                if output is not None:
                    sink.close()
                else:
                    sink.flush()

    run(database_url, work, project)


@app.command("import")
def import_(
    name: Name,
    file: Annotated[Path, typer.Argument(help="NDJSON, as `plaudit dataset export` writes.")],
    project: Project = "default",
    database_url: DatabaseUrl = None,
    url: Url = None,
    token: Token = None,
    json: Json = False,
) -> None:
    """Add every example of an NDJSON file as one new version."""
    add(name, file=file, project=project, database_url=database_url, url=url, token=token,
        json=json)  # fmt: skip
