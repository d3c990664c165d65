"""a span's messages from GenAI events sent as OTLP logs

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    op.create_table(
        "span_messages",
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("record", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("time_unix_nano", sa.BigInteger(), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("message", json, nullable=False),
        sa.PrimaryKeyConstraint(
            "project", "span_id", "record", "position", name=op.f("pk_span_messages")
        ),
    )
    op.create_index(
        op.f("ix_span_messages_project_trace_id"),
        "span_messages",
        ["project", "trace_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_span_messages_project_trace_id"), table_name="span_messages")
    op.drop_table("span_messages")
