"""evaluation runs, their per-example results and scores

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

Every example of a run has a row from the start (`pending`), so a resumed run reads what is left.
Scores keep their verdict (`passed`) as judged when stored; `ix_evaluation_scores_passed` finds a
run's failures (the dataset's guardrails) without reading its passes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Json = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def _keys(*columns: str) -> list[sa.Column[str]]:
    return [sa.Column(c, sa.String(length=128 if c == "project" else 64), nullable=False)
            for c in columns]  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "evaluation_runs",
        *_keys("project", "id"),
        sa.Column("name", sa.String(length=256), nullable=True),
        sa.Column("dataset", sa.String(length=128), nullable=False),
        sa.Column("dataset_version", sa.Integer(), nullable=False),
        sa.Column("only", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("examples", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("project", "id", name=op.f("pk_evaluation_runs")),
    )
    op.create_index(
        "ix_evaluation_runs_dataset", "evaluation_runs", ["project", "dataset", "created_at"]
    )
    op.create_table(
        "evaluation_results",
        *_keys("project", "run", "example_id"),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("output", Json, nullable=True),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("span_id", sa.String(length=16), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("project", "run", "example_id", name=op.f("pk_evaluation_results")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "evaluation_scores",
        *_keys("project", "run", "example_id"),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("value", Json, nullable=False),
        sa.Column("number", sa.Float(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint(
            "project", "run", "example_id", "name", name=op.f("pk_evaluation_scores")
        ),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_evaluation_scores_passed", "evaluation_scores", ["project", "run", "passed"]
    )


def downgrade() -> None:
    op.drop_index("ix_evaluation_scores_passed", table_name="evaluation_scores")
    op.drop_table("evaluation_scores")
    op.drop_table("evaluation_results")
    op.drop_index("ix_evaluation_runs_dataset", table_name="evaluation_runs")
    op.drop_table("evaluation_runs")
