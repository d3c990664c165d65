"""datasets with versions, annotation queues and their items

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

`dataset_examples` keeps every content an example ever had with the versions it was live in, so
any version reads as one range query. `ix_feedback_received` lets queue fill find feedback that
arrived since its last look without scanning the table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Json = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def _keys(*columns: str) -> list[sa.Column[str]]:
    return [sa.Column(c, sa.String(length=128), nullable=False) for c in columns]


def upgrade() -> None:
    op.create_table(
        "datasets",
        *_keys("project", "name"),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("project", "name", name=op.f("pk_datasets")),
    )
    op.create_table(
        "dataset_versions",
        *_keys("project", "dataset"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("revised", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project", "dataset", "version", name=op.f("pk_dataset_versions")),
    )
    op.create_table(
        "dataset_examples",
        *_keys("project", "dataset"),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version_from", sa.Integer(), nullable=False),
        sa.Column("version_to", sa.Integer(), nullable=True),
        sa.Column("content", Json, nullable=False),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("annotation_status", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint(
            "project", "dataset", "id", "version_from", name=op.f("pk_dataset_examples")
        ),
        sqlite_with_rowid=False,
    )
    _create_queue_tables()
    op.create_index("ix_feedback_received", "feedback", ["project", "received_at"], unique=False)


def _create_queue_tables() -> None:
    op.create_table(
        "annotation_queues",
        *_keys("project", "name"),
        sa.Column("feedback_names", Json, nullable=False),
        sa.Column("instructions", sa.Text(), nullable=True),
        sa.Column("fill", Json, nullable=True),
        sa.Column("fill_mark", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("project", "name", name=op.f("pk_annotation_queues")),
    )
    op.create_table(
        "annotation_items",
        *_keys("project", "queue"),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("span_id", sa.String(length=16), nullable=True),
        sa.Column("dataset", sa.String(length=128), nullable=True),
        sa.Column("example_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("done_by", sa.String(length=256), nullable=True),
        sa.Column("done_at", sa.BigInteger(), nullable=True),
        sa.Column("held_by", sa.String(length=256), nullable=True),
        sa.Column("held_until", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("project", "queue", "id", name=op.f("pk_annotation_items")),
    )
    op.create_index(
        op.f("ix_annotation_items_project_queue_status_created_at"),
        "annotation_items",
        ["project", "queue", "status", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_feedback_received", table_name="feedback")
    op.drop_index(
        op.f("ix_annotation_items_project_queue_status_created_at"), table_name="annotation_items"
    )
    op.drop_table("annotation_items")
    op.drop_table("annotation_queues")
    op.drop_table("dataset_examples")
    op.drop_table("dataset_versions")
    op.drop_table("datasets")
