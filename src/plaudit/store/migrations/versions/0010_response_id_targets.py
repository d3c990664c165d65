"""feedback may target the provider's response id; spans keep theirs

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

`spans.response_id` holds a span's `gen_ai.response.id` attribute (spans stored before this
migration are filled from their attributes), `feedback.response_id` the target an event names;
both indexed by project so a feedback event finds its span, and a span its waiting feedback.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("spans", "feedback"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("response_id", sa.String(length=256), nullable=True))
            # Partial: most rows have none, and NULL entries would cost every insert.
            batch_op.create_index(
                batch_op.f(f"ix_{table}_project_response_id"),
                ["project", "response_id"],
                unique=False,
                sqlite_where=sa.text("response_id IS NOT NULL"),
                postgresql_where=sa.text("response_id IS NOT NULL"),
            )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE spans SET response_id = left(attributes ->> 'gen_ai.response.id', 256) "
            "WHERE jsonb_typeof(attributes -> 'gen_ai.response.id') = 'string'"
        )
    else:
        op.execute(
            "UPDATE spans SET response_id = substr(json_extract(attributes, "
            "'$.\"gen_ai.response.id\"'), 1, 256) WHERE json_type(attributes, "
            "'$.\"gen_ai.response.id\"') = 'text'"
        )


def downgrade() -> None:
    for table in ("feedback", "spans"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_project_response_id"))
            batch_op.drop_column("response_id")
