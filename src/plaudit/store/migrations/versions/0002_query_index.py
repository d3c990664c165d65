"""index for queries by feedback name

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Most questions name the feedback they are about (`where name = "response-quality"`) and group or
filter by capability and time. This index leads with exactly those, and carries `kind` and
`value_num` so satisfaction, thumbs and numeric metrics, and the explorer's newest-first page of
one capability, are answered from the index without reading the (JSON-heavy) rows. It stays
exact under revisions and deletes because it is an index, not a rollup.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["project", "name", "capability", "timestamp", "kind", "value_num"]


def upgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index("ix_feedback_query", COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_query")
