"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("span_id", sa.String(length=16), nullable=True),
        sa.Column("conversation_id", sa.String(length=256), nullable=True),
        sa.Column("capability", sa.String(length=128), nullable=True),
        sa.Column("step", sa.String(length=128), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("value_num", sa.Float(), nullable=True),
        sa.Column("value_text", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column(
            "expected",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "scores",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("signal_type", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("implicit", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.String(length=256), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("link_status", sa.String(length=8), nullable=False),
        sa.Column(
            "pii",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project", "id", name=op.f("pk_feedback")),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index(
            "ix_feedback_pending",
            ["project", "link_status"],
            unique=False,
            sqlite_where=sa.text("link_status = 'pending'"),
            postgresql_where=sa.text("link_status = 'pending'"),
        )
        batch_op.create_index(
            batch_op.f("ix_feedback_project_span_id"), ["project", "span_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_feedback_project_timestamp"), ["project", "timestamp"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_feedback_project_trace_id"), ["project", "trace_id"], unique=False
        )

    op.create_table(
        "feedback_configs",
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("project", "name", name=op.f("pk_feedback_configs")),
    )
    op.create_table(
        "feedback_history",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("feedback_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column(
            "content",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_feedback_history")),
    )
    with op.batch_alter_table("feedback_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_history_project_feedback_id"),
            ["project", "feedback_id"],
            unique=False,
        )

    op.create_table(
        "projects",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_projects")),
    )
    op.create_table(
        "span_enrichments",
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "feedback",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("project", "span_id", name=op.f("pk_span_enrichments")),
    )
    op.create_table(
        "spans",
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("parent_span_id", sa.String(length=16), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("start_time_ns", sa.BigInteger(), nullable=False),
        sa.Column("end_time_ns", sa.BigInteger(), nullable=False),
        sa.Column("status_code", sa.String(length=8), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=False),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "events",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "links",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "resource",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "scope",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("capability", sa.String(length=128), nullable=True),
        sa.Column("step", sa.String(length=128), nullable=True),
        sa.Column("conversation_id", sa.String(length=256), nullable=True),
        sa.Column("user_id", sa.String(length=256), nullable=True),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("project", "trace_id", "span_id", name=op.f("pk_spans")),
    )
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_spans_project_conversation_id"),
            ["project", "conversation_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_spans_project_span_id"), ["project", "span_id"], unique=False
        )

    op.create_table(
        "tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=256), server_default="", nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "scopes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "origins",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_tokens_token_hash")),
    )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tokens_project"), ["project"], unique=False)

    op.create_table(
        "trace_enrichments",
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "feedback",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("project", "trace_id", name=op.f("pk_trace_enrichments")),
    )

    projects = sa.table(
        "projects", sa.column("name", sa.String), sa.column("created_at", sa.BigInteger)
    )
    op.bulk_insert(projects, [{"name": "default", "created_at": time.time_ns() // 1000}])


def downgrade() -> None:
    op.drop_table("trace_enrichments")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tokens_project"))

    op.drop_table("tokens")
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spans_project_span_id"))
        batch_op.drop_index(batch_op.f("ix_spans_project_conversation_id"))

    op.drop_table("spans")
    op.drop_table("span_enrichments")
    op.drop_table("projects")
    with op.batch_alter_table("feedback_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_history_project_feedback_id"))

    op.drop_table("feedback_history")
    op.drop_table("feedback_configs")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_project_trace_id"))
        batch_op.drop_index(batch_op.f("ix_feedback_project_timestamp"))
        batch_op.drop_index(batch_op.f("ix_feedback_project_span_id"))
        batch_op.drop_index(
            "ix_feedback_pending",
            sqlite_where=sa.text("link_status = 'pending'"),
            postgresql_where=sa.text("link_status = 'pending'"),
        )

    op.drop_table("feedback")
