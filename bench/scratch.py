"""A fresh, empty database for one benchmark run, removed afterwards."""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from plaudit.store.database import normalise_url


@contextmanager
def scratch_database(postgres_url: str | None, folder: Path) -> Iterator[str]:
    """The URL of a new SQLite file in `folder` (which its owner removes), or with a PostgreSQL
    URL, of a new schema there (`scratch_schema`)."""
    if postgres_url is None:
        yield f"sqlite:///{folder / 'plaudit.db'}"
        return
    with scratch_schema(postgres_url) as url:
        yield url


@contextmanager
def scratch_schema(postgres_url: str) -> Iterator[str]:
    """`postgres_url` with a new schema of its own as the search path, dropped with all it holds
    afterwards. The URL keeps its scheme, so libpq (psycopg.connect) reads it as well."""
    schema = f"plaudit_bench_{secrets.token_hex(4)}"
    _execute(postgres_url, f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in postgres_url else "?"
    try:
        yield f"{postgres_url}{joiner}options=-csearch_path%3D{schema}"
    finally:
        _execute(postgres_url, f"DROP SCHEMA {schema} CASCADE")


def _execute(postgres_url: str, statement: str) -> None:
    # An engine of its own, disposed at once: no idle connection stays open beside the
    # measured run. Plain SQLAlchemy, not the server's engine: no statement timeout on the drop.
    admin = create_engine(normalise_url(postgres_url))
    try:
        with admin.begin() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()
