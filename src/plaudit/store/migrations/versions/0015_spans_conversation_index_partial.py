"""spans' conversation index holds only spans that name a conversation

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

Most spans of a trace name no conversation (typically only the root does), yet each took an
entry in `(project, conversation_id)`: one more random b-tree page written per span. Every
reader asks for a given conversation (`=`, `IN`, `= ANY`) or for `IS NOT NULL`, all of which
imply the index's condition, so the partial index serves them all.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_spans_project_conversation_id"
COLUMNS = ["project", "conversation_id"]
NAMED = sa.text("conversation_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index(NAME, table_name="spans")
    op.create_index(NAME, "spans", COLUMNS, sqlite_where=NAMED, postgresql_where=NAMED)


def downgrade() -> None:
    op.drop_index(NAME, table_name="spans")
    op.create_index(NAME, "spans", COLUMNS)
