"""Alembic environment: runs migrations on the engine handed over by `plaudit.store.migrate`."""

from alembic import context
from sqlalchemy import Engine, text

from plaudit.store.schema import metadata

MIGRATION_LOCK = 0x706C_6175_6D69  # any constant; no other lock of ours uses it

engine = context.config.attributes["engine"]
assert isinstance(engine, Engine)

with engine.begin() as connection:
    # Several server processes may start at once on one PostgreSQL database: the first migrates,
    # the others wait here and then find the schema current. The lock ends with the transaction.
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    context.run_migrations()
