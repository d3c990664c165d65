"""`plaudit db`: schema migrations."""

from typing import Annotated

import typer
from sqlalchemy import Engine

from plaudit.cli.output import emit
from plaudit.settings import from_environment
from plaudit.store.database import create_database_engine
from plaudit.store.migrate import upgrade as upgrade_schema

app = typer.Typer(help="Database schema.", no_args_is_help=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="Database URL [env: PLAUDIT_DATABASE_URL]", show_default=False
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.command()
def upgrade(database_url: DatabaseUrl = None, json: Json = False) -> None:
    """Apply every pending migration (the server also does this at start)."""
    settings = from_environment(database_url=database_url)
    engine = create_database_engine(settings.database_url)
    upgrade_schema(engine)
    engine.dispose()
    emit(
        {"status": "ok", "database": engine.url.render_as_string()},
        json,
        "database schema is current",
    )


def open_engine(database_url: str | None) -> Engine:
    """The database of `--database-url` / PLAUDIT_DATABASE_URL, migrated."""
    engine = create_database_engine(from_environment(database_url=database_url).database_url)
    upgrade_schema(engine)
    return engine
