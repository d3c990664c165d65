"""`plaudit queue`: create annotation queues, add items, see progress, straight on the database.

Queues created here fill from their filter at once; a running server keeps filling them as
feedback arrives."""

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
import typer
from sqlalchemy import Engine, select

from plaudit.cli.dataset import run
from plaudit.cli.db import DatabaseUrl, Json
from plaudit.cli.output import Group, emit
from plaudit.cli.query import Project
from plaudit.core.configs import FeedbackConfig
from plaudit.loop.queue_setup import FillIn, QueueIn, add_targets, checked_queue, setup_queue
from plaudit.store.annotation_queues import list_items, list_queues
from plaudit.store.datasets import list_datasets
from plaudit.store.schema import feedback_configs

app = typer.Typer(
    help="Annotation queues: create, add, list, items.", no_args_is_help=True, cls=Group
)

Name = Annotated[str, typer.Argument(help="The queue's name.")]


def _configs(engine: Engine, project: str) -> dict[str, FeedbackConfig]:
    with engine.connect() as connection:
        rows = connection.scalars(
            select(feedback_configs.c.config).where(feedback_configs.c.project == project)
        ).all()
    return {c.name: c for c in (msgspec.convert(r, FeedbackConfig) for r in rows)}


@app.command()
def create(
    name: Name,
    ask: Annotated[list[str], typer.Option("--ask", help="A configured feedback name.")],
    dataset: Annotated[str | None, typer.Option(help="With --fill: add spans to it.")] = None,
    fill: Annotated[str | None, typer.Option(help="Fill from feedback matching this.")] = None,
    since: Annotated[str | None, typer.Option(help="With --fill: 7d, 24h or a time.")] = None,
    instructions: Annotated[str | None, typer.Option(help="What reviewers should do.")] = None,
    project: Project = "default",
    database_url: DatabaseUrl = None,
    json: Json = False,
) -> None:
    """Create a queue whose reviewers answer the --ask names."""
    body = QueueIn(
        name, ask, instructions, FillIn(fill, since, dataset) if fill is not None else None
    )
    now = datetime.now(UTC)

    def work(engine: Engine) -> dict[str, Any]:
        with engine.connect() as connection:
            known = [d["name"] for d in list_datasets(connection, project, None, 100_000)]
        settings = checked_queue(body, _configs(engine, project), known)
        with engine.begin() as connection:
            return setup_queue(connection, project, name, settings, now)

    made = run(database_url, work, project)
    emit(made, json, f"created queue {name} ({made['counts']['pending']} pending)")


@app.command("list")
def list_(
    project: Project = "default", database_url: DatabaseUrl = None, json: Json = False
) -> None:
    """Every queue with its progress."""

    def read(engine: Engine) -> list[dict[str, Any]]:
        with engine.connect() as connection:
            return list_queues(connection, project, None, 10_000)

    found = run(database_url, read, project)
    lines = [
        f"{q['name']}  {q['counts']['done']}/{q['counts']['done'] + q['counts']['pending']} done"
        for q in found
    ]
    emit({"items": found}, json, "\n".join(lines) or "no queues")


@app.command()
def add(
    name: Name,
    trace: Annotated[str | None, typer.Option(help="A trace to review.")] = None,
    span: Annotated[str | None, typer.Option(help="Its span.")] = None,
    dataset: Annotated[str | None, typer.Option(help="A dataset whose row to review.")] = None,
    example: Annotated[str | None, typer.Option(help="The row's example id.")] = None,
    project: Project = "default",
    database_url: DatabaseUrl = None,
    json: Json = False,
) -> None:
    """Add one item by hand: --trace [--span], or --dataset with --example."""
    item: dict[str, Any] = (
        {"dataset": dataset, "example_id": example}
        if dataset is not None
        else {"trace_id": trace, **({"span_id": span} if span else {})}
    )
    now = datetime.now(UTC)

    def work(engine: Engine) -> list[dict[str, Any]]:
        with engine.begin() as connection:
            return add_targets(connection, project, name, [item], now)

    result = run(database_url, work, project)[0]
    if result["status"] == "rejected":
        emit(result, json, f"refused: {result['error']['detail']}")
        raise typer.Exit(1)
    emit(result, json, f"{result['status']}: {result['id']}")


@app.command()
def items(
    name: Name,
    status: Annotated[str | None, typer.Option(help="pending or done.")] = None,
    project: Project = "default",
    database_url: DatabaseUrl = None,
    json: Json = False,
) -> None:
    """The queue's items, with who did them and when."""

    def read(engine: Engine) -> list[dict[str, Any]]:
        with engine.connect() as connection:
            return list_items(connection, project, name, status, None, 100_000)

    found = run(database_url, read, project)
    lines = [
        f"{i['id']}  {i['status']}  {i.get('done_by', '-')}  {i.get('done_at', '')}" for i in found
    ]
    emit({"items": found}, json, "\n".join(lines) or "no items")
