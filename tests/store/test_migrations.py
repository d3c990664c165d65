"""Migrations: up, down and up again on both stores, and the models match the migrations."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from plaudit.store.database import create_database_engine
from plaudit.store.migrate import downgrade, is_current, upgrade
from plaudit.store.schema import metadata, projects


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
