"""each project says whether proxied calls keep their messages

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

The OpenAI-compatible proxy records `gen_ai.input.messages` and `gen_ai.output.messages` on the
spans it makes unless the project turns content capture off (docs/proxy.md). On by default, also
for projects that exist already, as before this migration nothing turned it off.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("capture_content", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("capture_content")
