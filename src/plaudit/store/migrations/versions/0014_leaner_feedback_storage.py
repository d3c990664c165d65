"""leaner feedback storage: fewer and narrower feedback indexes, rollups without rowid

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

What each cut saves and what reads the indexes now is in docs/performance.md ("Storage").

- `ix_feedback_query` no longer carries `trace_id`: only trace search read it from the index, and
  it reads the rows of one page instead.
- The plain `(project, span_id)` index and the old `ix_feedback_pending (project, link_status)`
  become one partial index, `ix_feedback_pending (project, span_id) WHERE link_status =
  'pending'`: linking looks up only events still waiting for their span, and start-up linking
  reads every pending event of a project through it. A linked event costs it no entry. Readers
  by span id (`span_id = …` filters) go through the span's traces and response id
  (`store.sql_query`).
- On SQLite, `feedback_rollup` and `feedback_metadata_rollup` are stored without rowid, clustered
  by their key: the key (with its long `cell`) is stored once instead of in the table and again in
  the primary key's index. SQLite cannot change that in place, so both tables are copied; on
  PostgreSQL nothing changes for them.

Rebuilding `ix_feedback_query` and the partial index reads the whole feedback table once each:
about 20 s per million events on SQLite, 7 s on PostgreSQL, on a 2-core machine (docs/deploy.md).
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUERY_COLUMNS = ["project", "name", "timestamp", "capability", "kind", "value_num"]
PENDING = "link_status = 'pending'"
ROLLUPS = ("feedback_rollup", "feedback_metadata_rollup")


def upgrade() -> None:
    _set_query_index([*QUERY_COLUMNS])
    op.drop_index("ix_feedback_project_span_id", table_name="feedback")
    op.drop_index("ix_feedback_pending", table_name="feedback")
    _pending_index(["project", "span_id"])
    if op.get_bind().dialect.name == "sqlite":
        for table in ROLLUPS:
            _copy_table(table, with_rowid=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in ROLLUPS:
            _copy_table(table, with_rowid=True)
    op.drop_index("ix_feedback_pending", table_name="feedback")
    _pending_index(["project", "link_status"])
    op.create_index("ix_feedback_project_span_id", "feedback", ["project", "span_id"])
    _set_query_index([*QUERY_COLUMNS, "trace_id"])


def _set_query_index(columns: list[str]) -> None:
    op.drop_index("ix_feedback_query", table_name="feedback")
    op.create_index("ix_feedback_query", "feedback", columns)


def _pending_index(columns: list[str]) -> None:
    where = sa.text(PENDING)
    op.create_index(
        "ix_feedback_pending", "feedback", columns, sqlite_where=where, postgresql_where=where
    )


def _copy_table(name: str, with_rowid: bool) -> None:
    """Rebuild a SQLite table with or without rowid (SQLite cannot change it in place): create
    the new table from the old one's own statement, copy the rows, swap the names."""
    bind = op.get_bind()
    statement = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": name},
    ).scalar_one()
    body = statement[statement.index("(") :].rstrip()
    body = re.sub(r"\s*WITHOUT ROWID$", "", body, flags=re.IGNORECASE)
    staging = f"{name}_rebuilt"
    suffix = "" if with_rowid else " WITHOUT ROWID"
    bind.exec_driver_sql(f'CREATE TABLE "{staging}" {body}{suffix}')
    bind.exec_driver_sql(f'INSERT INTO "{staging}" SELECT * FROM "{name}"')
    bind.exec_driver_sql(f'DROP TABLE "{name}"')
    bind.exec_driver_sql(f'ALTER TABLE "{staging}" RENAME TO "{name}"')
