"""Migrations: up, down and up again on both stores, and the models match the migrations."""

import subprocess
import sys
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, insert, inspect, select, text

from plaudit.store.database import create_database_engine
from plaudit.store.migrate import (
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    is_current,
    migrate,
    upgrade,
)
from plaudit.store.schema import (
    feedback_metadata_rollup,
    feedback_rollup,
    metadata,
    projects,
)
from tests.conftest import fresh_database


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    engine = create_database_engine(database_url)
    try:
        upgrade(engine)
        assert is_current(engine)
        assert "feedback" in inspect(engine).get_table_names()
        with engine.connect() as connection:
            assert connection.scalars(select(projects.c.name)).all() == ["default"]
        downgrade(engine, "base")
        assert "feedback" not in inspect(engine).get_table_names()
        assert not is_current(engine)
        upgrade(engine)
        upgrade(engine)  # a second upgrade is a no-op
        assert is_current(engine)
    finally:
        engine.dispose()


def test_the_newest_revision_is_alembics_head(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'head.db'}")
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    assert head_revision() == scripts.get_current_head()


def test_the_revision_read_without_alembic_is_alembics(database_url: str) -> None:
    engine = create_database_engine(database_url)
    try:
        downgrade(engine, "base")
        for target in ("0010", "head"):
            upgrade(engine, target)
            with engine.connect() as connection:
                alembics = MigrationContext.configure(connection).get_current_revision()
            assert current_revision(engine) == alembics
            assert is_current(engine) == (alembics == head_revision())
        assert alembics == head_revision()
    finally:
        engine.dispose()


def test_a_current_schema_is_opened_without_importing_alembic(database_url: str) -> None:
    engine = create_database_engine(database_url)
    upgrade(engine)
    engine.dispose()
    program = (
        "import sys\n"
        "from plaudit.store.database import create_database_engine\n"
        "from plaudit.store.migrate import upgrade\n"
        f"upgrade(create_database_engine({database_url!r}))\n"
        "print('alembic' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_models_match_the_migrations(database_url: str) -> None:
    engine = create_database_engine(database_url)
    try:
        downgrade(engine, "base")
        migrate(engine, "head")
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def _storage_shape(engine: Engine) -> dict[str, str]:
    """Each index's definition (partial conditions included) and, on SQLite, whether each table
    has a rowid: what `compare_metadata` does not compare."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            schema = connection.scalar(text("SELECT current_schema()"))
            rows = connection.execute(
                text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = :schema"),
                {"schema": schema},
            )
            return {
                name: definition.replace(f"{schema}.", "")
                for name, definition in rows
                if not name.startswith("alembic_version")
            }
        rows = connection.execute(
            text("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL")
        )
        return {
            name: " ".join(sql.replace('"', "").split()).split(" (", 1)[1]
            if kind == "index"
            else str("WITHOUT ROWID" in sql.upper())
            for kind, name, sql in rows
            if name != "alembic_version"
        }


def test_indexes_and_rowids_match_the_models(dialect: str, tmp_path: Path) -> None:
    with (
        fresh_database(dialect, tmp_path / "migrated") as migrated_url,
        fresh_database(dialect, tmp_path / "created") as created_url,
    ):
        migrated = create_database_engine(migrated_url)
        created = create_database_engine(created_url)
        try:
            migrate(migrated, "head")
            upgrade(created)  # a database with none of our tables is created from the models
            found = _storage_shape(migrated)
            assert found == _storage_shape(created)
            assert "ix_feedback_project_span_id" not in found
            assert "trace_id" not in found["ix_feedback_query"]
            assert "WHERE" in found["ix_feedback_pending"].upper()
            if dialect == "sqlite":
                assert found["feedback_rollup"] == found["feedback_metadata_rollup"] == "True"
        finally:
            migrated.dispose()
            created.dispose()


def _tables(engine: Engine) -> dict[str, Any]:
    """Each table's columns (type, nullability, default), keys and constraints, and its rows
    with the times they were written left out."""
    shape: dict[str, Any] = {}
    with engine.connect() as connection:
        found = inspect(connection)
        for name in sorted(found.get_table_names()):
            columns = {
                c["name"]: (str(c["type"]), c["nullable"], _default(c.get("default")))
                for c in found.get_columns(name)
            }
            rows = connection.execute(text(f'SELECT * FROM "{name}"')).mappings()
            shape[name] = {
                "columns": columns,
                "primary key": found.get_pk_constraint(name)["constrained_columns"],
                "foreign keys": sorted(str(fk) for fk in found.get_foreign_keys(name)),
                "unique": sorted(str(u) for u in found.get_unique_constraints(name)),
                "checks": sorted(str(c) for c in found.get_check_constraints(name)),
                "rows": sorted(str(_untimed(row)) for row in rows),
            }
    return shape


def _untimed(row: Any) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "created_at"}


def _default(default: str | None) -> str | None:
    # SQLite keeps a default as written; migrations wrote some quoted, the models do not.
    return None if default is None else default.strip("'\"()")


def test_a_created_schema_is_the_migrated_one(dialect: str, tmp_path: Path) -> None:
    with (
        fresh_database(dialect, tmp_path / "migrated") as migrated_url,
        fresh_database(dialect, tmp_path / "created") as created_url,
    ):
        migrated = create_database_engine(migrated_url)
        created = create_database_engine(created_url)
        try:
            migrate(migrated, "head")
            upgrade(created)
            expected = _tables(migrated)
            assert _tables(created) == expected
            assert expected["projects"]["rows"] and expected["alembic_version"]["rows"]
            with created.connect() as connection:
                revision = MigrationContext.configure(connection).get_current_revision()
            assert revision == head_revision()
            downgrade(created, "0010")  # Alembic takes it as its own, down and up again
            upgrade(created)
            assert _tables(created)["feedback"] == expected["feedback"]
        finally:
            migrated.dispose()
            created.dispose()


def _rollup_rows(engine: Engine) -> list[list[Any]]:
    with engine.connect() as connection:
        return [
            sorted(tuple(row) for row in connection.execute(select(table)))
            for table in (feedback_rollup, feedback_metadata_rollup)
        ]


def test_0014_keeps_the_rollups_when_it_rebuilds_them(dialect: str, tmp_path: Path) -> None:
    """The rollup tables are copied (SQLite, to drop their rowid), both ways, row for row."""
    sums = {"count": 3, "up": 2, "down": 1, "value_count": 3, "value_sum": 1.0, "value_inexact": 0}
    cell = {"project": "default", "day": 0, "name": "helpful", "capability": None}
    rollup = [
        {**cell, **sums, "cell": f"c{i}", "step": None, "kind": "thumb", "source": "end_user",
         "signal_type": "default", "implicit": False, "link_status": "pending"}
        for i in range(3)
    ]  # fmt: skip
    metadata_rollup = [
        {**cell, **sums, "cell": f"c{i}", "key": "plan", "value_type": "s", "value_text": "pro",
         "value_num": None}
        for i in range(2)
    ]  # fmt: skip
    with fresh_database(dialect, tmp_path) as url:
        engine = create_database_engine(url)
        try:
            upgrade(engine, "0013")
            with engine.begin() as connection:
                connection.execute(insert(feedback_rollup), rollup)
                connection.execute(insert(feedback_metadata_rollup), metadata_rollup)
            before = _rollup_rows(engine)
            assert [len(rows) for rows in before] == [3, 2]
            upgrade(engine)
            assert _rollup_rows(engine) == before
            downgrade(engine, "0013")
            assert _rollup_rows(engine) == before
            upgrade(engine)
            assert _rollup_rows(engine) == before
        finally:
            engine.dispose()
