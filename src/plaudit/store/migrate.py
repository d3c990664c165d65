"""Schema migrations with Alembic, applied at start-up and by `plaudit db upgrade`.

Alembic (with Mako and Pygments under it) takes about a tenth of a second to import, and most
starts find the schema current: that is told by one `SELECT` against the newest migration's
revision, and Alembic is imported only when there is something to migrate. A database with
none of our tables is given the newest schema at once, from the models, instead of by fifteen
migrations in turn (0.07 s instead of 0.3 s on SQLite); tests hold the two schemas equal.
"""

import time
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    inspect,
    text,
)

from plaudit.store.schema import metadata, projects

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK: Final = 0x706C_6175_6D69  # any constant; no other lock of ours uses it
"""Held while a PostgreSQL schema is created or migrated: several server processes may start at
once on one database; the first does the work, the others wait and find the schema current."""

VERSION_TABLE = "alembic_version"
_versions = Table(  # as Alembic creates it, so that later migrations find it as theirs
    VERSION_TABLE,
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


@cache
def head_revision() -> str:
    """The newest migration's revision: migration files are named after their revisions, which
    count up ("0015_….py" holds revision "0015"); a test holds this equal to Alembic's head."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("*_*.py"))


def alembic_config(engine: Engine) -> "Config":
    """An Alembic config bound to `engine` (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision`."""
    if revision == "head" and (is_current(engine) or create_newest(engine)):
        return
    migrate(engine, revision)


def migrate(engine: Engine, revision: str) -> None:
    """Run the migrations up to `revision`, each in turn, whatever the database holds."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def create_newest(engine: Engine) -> bool:
    """On a database with none of our tables, create the newest schema from the models, with
    what the migrations seed (the `default` project), and record the newest revision; False,
    doing nothing, if any of our tables is there."""
    with engine.begin() as connection:
        lock(connection)
        if set(inspect(connection).get_table_names()) & set(metadata.tables):
            return False
        metadata.create_all(connection)
        connection.execute(projects.insert().values(name="default", created_at=_now()))
        _versions.create(connection, checkfirst=True)  # kept by a downgrade to base
        connection.execute(_versions.insert().values(version_num=head_revision()))
    return True


def lock(connection: Connection) -> None:
    """On PostgreSQL, wait for any other process creating or migrating the schema (the lock
    ends with the transaction)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})


def _now() -> int:
    return time.time_ns() // 1000


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema down to `revision`."""
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest revision."""
    return current_revision(engine) == head_revision()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None before the first migration)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        revision = connection.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}"))
        return None if revision is None else str(revision)


def revisions_between(
    engine: Engine, older: str | None, newer: str | None
) -> list[tuple[str, str]]:
    """(revision, description) of each migration after `older` up to `newer`, oldest first."""
    if newer is None or older == newer:
        return []
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config(engine))
    found = scripts.iterate_revisions(newer, older or "base")
    return [(s.revision, (s.doc or "").strip()) for s in reversed(list(found))]
