"""Migrations: up, down and up again on both stores, and the models match the migrations."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text

from plaudit.store.database import create_database_engine
from plaudit.store.migrate import downgrade, is_current, upgrade
from plaudit.store.schema import metadata, projects
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


def test_models_match_the_migrations(database_url: str) -> None:
    engine = create_database_engine(database_url)
    try:
        upgrade(engine)
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
            upgrade(migrated)
            metadata.create_all(created)
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
