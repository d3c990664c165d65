"""`plaudit db`: schema migrations; and how every command opens the database."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from plaudit.cli.output import Group, Json, emit, fail
from plaudit.cli.problems import Exit
from plaudit.settings import from_environment
from plaudit.store.database import create_database_engine
from plaudit.store.migrate import current_revision, revisions_between
from plaudit.store.migrate import upgrade as upgrade_schema
from plaudit.store.projects import ensure_project
from plaudit.store.schema import projects

__all__ = ["CreateProject", "DatabaseUrl", "Json", "check_database_url", "open_engine"]

app = typer.Typer(help="Database schema.", no_args_is_help=True, cls=Group)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="Database URL [env: PLAUDIT_DATABASE_URL]", show_default=False
    ),
]
CreateProject = Annotated[
    bool,
    typer.Option(
        "--create-project",
        help="Create --project if it does not exist (without it, an unknown project is refused).",
    ),
]

_DIALECTS = ("sqlite", "postgresql", "postgres")


def check_database_url(url: str) -> None:
    """Refuse (exit 2) a URL that is not SQLite or PostgreSQL, before anything connects."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise fail(
            f"not a database URL: {url!r} (use sqlite:///path/to/file.db or "
            "postgresql://user@host:5432/db)",
            Exit.USAGE,
        ) from None
    dialect = parsed.drivername.split("+", 1)[0]
    if dialect not in _DIALECTS:
        raise fail(
            f"Plaudit stores data in SQLite or PostgreSQL, not {dialect!r}: "
            f"{parsed.render_as_string(hide_password=True)}",
            Exit.USAGE,
        )


def _engine(database_url: str | None) -> Engine:
    url = from_environment(database_url=database_url).database_url
    check_database_url(url)
    return create_database_engine(url)


@contextmanager
def _opening(engine: Engine) -> Iterator[None]:
    """A SQLite file that cannot be opened is a path problem (exit 4), not a database one."""
    try:
        yield
    except OperationalError as error:
        if engine.dialect.name != "sqlite":
            raise
        reason = str(error.orig).splitlines()[0] if error.orig else str(error)
        raise fail(f"cannot open {engine.url.database}: {reason}", Exit.PATH) from None


@app.command()
def upgrade(database_url: DatabaseUrl = None, json: Json = False) -> None:
    """Apply every pending migration and say which (the server also does this at start)."""
    engine = _engine(database_url)
    try:
        with _opening(engine):
            before = current_revision(engine)
            upgrade_schema(engine)
            after = current_revision(engine)
            applied = revisions_between(engine, before, after)
    finally:
        engine.dispose()
    database = engine.url.render_as_string(hide_password=True)
    lines = [f"applied {revision}: {about}" for revision, about in applied]
    lines.append(f"{database} is at revision {after}" + ("" if applied else " (nothing to apply)"))
    emit(
        {"database": database, "revision": after,
         "applied": [{"revision": r, "description": d} for r, d in applied]},
        json,
        "\n".join(lines),
    )  # fmt: skip


def open_engine(
    database_url: str | None, project: str | None = None, create_project: bool | None = None
) -> Engine:
    """The database of `--database-url` / PLAUDIT_DATABASE_URL, migrated; with `project`, that
    project must exist (or is created, with `create_project`; None: the command cannot create
    one): a typo must not read an empty project or write into a new one."""
    engine = _engine(database_url)
    try:
        with _opening(engine):
            upgrade_schema(engine)
        if project is not None:
            _check_project(engine, project, create_project)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _check_project(engine: Engine, project: str, create: bool | None) -> None:
    with engine.begin() as connection:
        known = list(connection.scalars(select(projects.c.name).order_by(projects.c.name)))
        if project in known:
            return
        if create:
            ensure_project(connection, project)
            return
    shown = ", ".join(known[:20]) + (", …" if len(known) > 20 else "")
    raise fail(
        f"no project {project!r} (projects: {shown or 'none'}); add --create-project to create it",
        Exit.USAGE,
    )
