"""each project says what happens to PII found in feedback text

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

A project's PII mode: `redact` (the default, also for projects that exist already), `flag` or `off`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pii_mode", sa.String(length=8), server_default="redact", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("pii_mode")
