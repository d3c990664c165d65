"""per-day rollups of feedback; query index ordered by name then time

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

`feedback_rollup` holds, per project, UTC day and combination of the low-cardinality fields
(name, capability, step, kind, source, signal_type, implicit, link_status), how many events there
are, their thumbs up and down, and the count and sum of their numeric values.
`feedback_metadata_rollup` holds the same per name, capability and top-level metadata entry with
a string, number or boolean value. Queries built from those fields and metrics read them instead
of the events (store/rollup.py); every write keeps them exact (store/rollup_writes.py), and this
migration fills them from the events already stored with `rollup_writes.rebuild` — the current
code's, so a later change to the rollups' shape must come with a migration that rebuilds them.

`ix_feedback_query` now orders by name then time (and carries `trace_id`): the partial days of a
rollup query, the explorer's newest-first page and trace search by feedback read it in time
order and stop early.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from plaudit.store.rollup_writes import rebuild

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_INDEX = ["project", "name", "capability", "timestamp", "kind", "value_num"]
NEW_INDEX = ["project", "name", "timestamp", "capability", "kind", "value_num", "trace_id"]


def _sums() -> list[sa.Column[Any]]:
    return [
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("up", sa.BigInteger(), nullable=False),
        sa.Column("down", sa.BigInteger(), nullable=False),
        sa.Column("value_count", sa.BigInteger(), nullable=False),
        sa.Column("value_sum", sa.Float(), nullable=False),
        sa.Column("value_inexact", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "feedback_rollup",
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("cell", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("capability", sa.String(length=128), nullable=True),
        sa.Column("step", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("signal_type", sa.String(length=16), nullable=False),
        sa.Column("implicit", sa.Boolean(), nullable=False),
        sa.Column("link_status", sa.String(length=8), nullable=False),
        *_sums(),
        sa.PrimaryKeyConstraint("project", "name", "day", "cell", name=op.f("pk_feedback_rollup")),
    )
    op.create_table(
        "feedback_metadata_rollup",
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("cell", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("capability", sa.String(length=128), nullable=True),
        sa.Column("value_type", sa.String(length=1), nullable=False),
        sa.Column("value_text", sa.Text(), nullable=True),
        sa.Column("value_num", sa.Float(), nullable=True),
        *_sums(),
        sa.PrimaryKeyConstraint(
            "project", "key", "day", "cell", name=op.f("pk_feedback_metadata_rollup")
        ),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_query")
        batch_op.create_index("ix_feedback_query", NEW_INDEX, unique=False)
    rebuild(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_query")
        batch_op.create_index("ix_feedback_query", OLD_INDEX, unique=False)
    op.drop_table("feedback_metadata_rollup")
    op.drop_table("feedback_rollup")
