"""indexes for the console's traces, conversation and user pages

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

`ix_spans_roots` lists the newest root spans (one per trace) without reading every span;
`ix_feedback_conversation` and `ix_feedback_user` find a conversation's or a user's feedback
without scanning all events. All three are partial: rows they would never find (child spans,
events without a conversation or user) cost no index entry on insert.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ROOT = "parent_span_id IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_spans_roots", "spans", ["project", "start_time_ns"],
        sqlite_where=sa.text(_ROOT), postgresql_where=sa.text(_ROOT),
    )  # fmt: skip
    for column in ("conversation_id", "user_id"):
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(
            f"ix_feedback_{column.removesuffix('_id')}", "feedback",
            ["project", column, "timestamp"], sqlite_where=where, postgresql_where=where,
        )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_feedback_user", table_name="feedback")
    op.drop_index("ix_feedback_conversation", table_name="feedback")
    op.drop_index("ix_spans_roots", table_name="spans")
