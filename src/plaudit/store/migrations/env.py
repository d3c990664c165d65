"""Alembic environment: runs migrations on the engine handed over by `plaudit.store.migrate`."""

from alembic import context
from sqlalchemy import Engine

from plaudit.store.migrate import lock
from plaudit.store.schema import metadata

engine = context.config.attributes["engine"]
assert isinstance(engine, Engine)

with engine.begin() as connection:
    lock(connection)
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    context.run_migrations()
