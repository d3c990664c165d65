"""`plaudit query "…"`: run a query of the text form on the database and print the answer."""

import csv
import sys
from typing import Annotated, Any

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from plaudit.analytics.run import Answer, Column, run_query
from plaudit.cli.db import DatabaseUrl, Json, open_engine
from plaudit.cli.output import fail
from plaudit.cli.problems import CliProblem
from plaudit.cli.remote import Token, Url, refuse_project, server
from plaudit.core.query.model import Query, QueryError
from plaudit.core.query.text import parse_query
from plaudit.errors import PlauditError

Project = Annotated[str, typer.Option("--project", "-p", help="The project to read.")]


def show_query_error(text: str, error: QueryError) -> CliProblem:
    """Print the query with a caret under the position, then the message."""
    if error.position is not None:
        typer.echo(f"  {text}\n  {' ' * error.position}^", err=True)
    return fail(error.message)


def query(
    text: Annotated[str, typer.Argument(help='e.g. "satisfaction, count by capability, day"')],
    project: Project = "default",
    database_url: DatabaseUrl = None,
    json: Json = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    seconds: Annotated[float, typer.Option("--timeout", help="Time limit in seconds.")] = 60.0,
    url: Url = None,
    token: Token = None,
) -> None:
    """Run a query (grammar: docs/query.md) on the database, or on a server with --url, and
    print a table, JSON (the answer of `POST /v1/query`) or CSV."""
    try:
        parsed = parse_query(text)
    except QueryError as error:
        raise show_query_error(text, error) from None
    remote = server(url, token, database_url)
    if remote is not None:
        refuse_project(project)
        found = remote.json("POST", "/v1/query", json={"query": text}, timeout=seconds + 5)
        answer = Answer([Column(c["name"], c["type"]) for c in found["columns"]], found["rows"])
    else:
        answer = _run_local(parsed, project, database_url, seconds)
    if json:
        sys.stdout.write(msgspec.json.encode(answer.to_json()).decode() + "\n")
    elif as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([c.name for c in answer.columns])
        writer.writerows([[_cell(v) for v in row] for row in answer.rows])
    else:
        _table(answer)


def _run_local(parsed: Query, project: str, database_url: str | None, seconds: float) -> Answer:
    engine = open_engine(database_url, project)
    try:
        with engine.connect() as connection:
            return run_query(connection, parsed, project, seconds=seconds)
    except (QueryError, PlauditError) as error:
        raise fail(str(error)) from None
    finally:
        engine.dispose()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return " ".join(f"{item['value']}:{item['count']:g}" for item in value)
    return str(value)


def _table(answer: Answer) -> None:
    table = Table(show_edge=False, header_style="bold")
    for column in answer.columns:
        numeric = column.type in ("integer", "number")
        table.add_column(column.name, justify="right" if numeric else "left")
    for row in answer.rows:
        table.add_row(*(_cell(v) for v in row))
    Console(width=200).print(table)
