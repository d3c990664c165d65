"""Schema migrations with Alembic, applied at start-up and by `plaudit db upgrade`.

Alembic (with Mako and Pygments under it) takes about a tenth of a second to import, and most
starts find the schema current: that is told by one `SELECT` against the newest migration's
revision, and Alembic is imported only when there is something to migrate.
"""

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"


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
    if revision == "head" and is_current(engine):
        return
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


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
