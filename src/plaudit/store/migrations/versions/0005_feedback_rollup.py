"""per-day rollup of feedback, kept exact by triggers; query index ordered by name then time

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

`feedback_rollup` holds, per project, UTC day and combination of the low-cardinality fields
(name, capability, step, kind, source, signal_type, implicit, link_status), how many events there
are, their thumbs up and down, and the count and sum of their numeric values. Queries built only
from those fields and metrics read it instead of the events (satisfaction by capability × day over
1,000,000 events reads a few thousand rollup rows instead of 400,000 index entries).

Triggers keep it exact, so no write path can forget it: an insert adds its event's contribution,
a delete subtracts it, and an update (a revision, or linking that fills `capability`/`step`)
moves it. SQLite runs a row trigger per event; PostgreSQL a statement trigger over the
transition tables, so a multi-row insert costs one grouped upsert. Cells whose count reaches zero
are removed, so the rollup never shows an empty group.

`ix_feedback_query` now orders by name then time (and carries `trace_id`): the raw edges of a
rollup query, the explorer's newest-first page and trace search by feedback read it in time
order and stop early.

A later migration that makes SQLite copy the `feedback` table (batch mode) must recreate these
triggers.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY = 86_400_000_000
DIMENSIONS = ("name", "capability", "step", "kind", "source", "signal_type", "implicit",
              "link_status")  # fmt: skip
MEASURES = ("count", "up", "down", "value_count", "value_sum")
KEY = ("project", "day", "cell")
COLUMNS = (*KEY, *DIMENSIONS, *MEASURES)
OLD_INDEX = ["project", "name", "capability", "timestamp", "kind", "value_num"]
NEW_INDEX = ["project", "name", "timestamp", "capability", "kind", "value_num", "trace_id"]


def _quoted(names: Sequence[str], prefix: str = "") -> str:
    return ", ".join(f'{prefix}"{name}"' for name in names)


def _day(row: str) -> str:
    # `%` keeps the dividend's sign in both stores; this floors, also before 1970.
    stamp = f'{row}."timestamp"'
    return f"({stamp} - ((({stamp} % {DAY}) + {DAY}) % {DAY}))"


def _cell(row: str, postgres: bool) -> str:
    values = _quoted(DIMENSIONS, row + ".")
    return f"json_build_array({values})::text" if postgres else f"json_array({values})"


def _measures(row: str, sign: str = "") -> list[str]:
    """One event's contribution to each measure (negated with sign '-')."""
    thumb = f"{row}.kind = 'thumb'"
    return [
        f"{sign}1",
        f"{sign}(CASE WHEN {thumb} AND {row}.value_num > 0 THEN 1 ELSE 0 END)",
        f"{sign}(CASE WHEN {thumb} AND {row}.value_num < 0 THEN 1 ELSE 0 END)",
        f"{sign}(CASE WHEN {row}.value_num IS NOT NULL THEN 1 ELSE 0 END)",
        f"{sign}COALESCE({row}.value_num, 0.0)",
    ]


def _contribution(row: str, postgres: bool, sign: str = "") -> str:
    """A select list, labelled like COLUMNS, of one event's contribution to its cell."""
    expressions = [
        f"{row}.project",
        _day(row),
        _cell(row, postgres),
        *(f'{row}."{d}"' for d in DIMENSIONS),
        *_measures(row, sign),
    ]
    return ", ".join(f'{e} AS "{c}"' for e, c in zip(expressions, COLUMNS, strict=True))


def _grouped(rows: str, having: bool) -> str:
    """Insert `rows` (selects labelled like COLUMNS) summed per cell."""
    groups = _quoted((*KEY, *DIMENSIONS))
    sums = ", ".join(f'sum("{m}")' for m in MEASURES)
    changed = " HAVING " + " OR ".join(f'sum("{m}") <> 0' for m in MEASURES) if having else ""
    return (
        f"INSERT INTO feedback_rollup ({_quoted(COLUMNS)}) "
        f"SELECT {groups}, {sums} FROM ({rows}) AS deltas "
        f"GROUP BY {groups}{changed} ORDER BY {_quoted(KEY)}"
    )


def _upsert() -> str:
    added = ", ".join(f'"{m}" = feedback_rollup."{m}" + excluded."{m}"' for m in MEASURES)
    return f" ON CONFLICT ({_quoted(KEY)}) DO UPDATE SET {added};"


def _backfill(postgres: bool) -> str:
    return _grouped(f"SELECT {_contribution('r', postgres)} FROM feedback AS r", having=False)


# -- SQLite: row triggers -----------------------------------------------------------------------


def _sqlite_add(row: str) -> str:
    # `WHERE true` tells SQLite's parser the ON CONFLICT belongs to the INSERT.
    return (
        f"INSERT INTO feedback_rollup ({_quoted(COLUMNS)}) "
        f"SELECT {_contribution(row, postgres=False)} WHERE true{_upsert()}"
    )


def _sqlite_remove(row: str) -> str:
    where = f"project = {row}.project AND day = {_day(row)} AND cell = {_cell(row, False)}"
    less = ", ".join(f'"{m}" = "{m}" - {e}' for m, e in zip(MEASURES, _measures(row), strict=True))
    return (
        f"UPDATE feedback_rollup SET {less} WHERE {where}; "
        f"DELETE FROM feedback_rollup WHERE {where} AND count = 0;"
    )


def _sqlite_moved() -> str:
    return (
        f"{_day('OLD')} != {_day('NEW')} OR {_cell('OLD', False)} != {_cell('NEW', False)} "
        "OR OLD.value_num IS NOT NEW.value_num"
    )


SQLITE_UP = [
    "CREATE TRIGGER feedback_rollup_inserted AFTER INSERT ON feedback "
    f"BEGIN {_sqlite_add('NEW')} END",
    "CREATE TRIGGER feedback_rollup_deleted AFTER DELETE ON feedback "
    f"BEGIN {_sqlite_remove('OLD')} END",
    f"CREATE TRIGGER feedback_rollup_updated AFTER UPDATE ON feedback WHEN {_sqlite_moved()} "
    f"BEGIN {_sqlite_remove('OLD')} {_sqlite_add('NEW')} END",
]
SQLITE_DOWN = [
    f"DROP TRIGGER feedback_rollup_{event}" for event in ("inserted", "deleted", "updated")
]

# -- PostgreSQL: statement triggers over transition tables --------------------------------------


def _pg_rows(table: str, sign: str = "") -> str:
    return f"SELECT {_contribution('r', True, sign)} FROM {table} AS r"


def _pg_drop_empty(table: str) -> str:
    return (
        "DELETE FROM feedback_rollup AS f USING "
        f"(SELECT DISTINCT r.project, {_day('r')} AS day, {_cell('r', True)} AS cell "
        f"FROM {table} AS r) AS gone "
        "WHERE f.project = gone.project AND f.day = gone.day AND f.cell = gone.cell "
        "AND f.count = 0;"
    )


PG_TRIGGERS = {
    # name: (event, transition tables, body)
    "feedback_rollup_inserted": (
        "INSERT",
        "NEW TABLE AS new_rows",
        _grouped(_pg_rows("new_rows"), having=False) + _upsert(),
    ),
    "feedback_rollup_deleted": (
        "DELETE",
        "OLD TABLE AS old_rows",
        _grouped(_pg_rows("old_rows", "-"), having=True) + _upsert() + _pg_drop_empty("old_rows"),
    ),
    "feedback_rollup_updated": (
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        _grouped(f"{_pg_rows('new_rows')} UNION ALL {_pg_rows('old_rows', '-')}", having=True)
        + _upsert()
        + _pg_drop_empty("old_rows"),
    ),
}
PG_UP = [
    statement
    for name, (event, tables, body) in PG_TRIGGERS.items()
    for statement in (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {body} RETURN NULL; END $$",
        f"CREATE TRIGGER {name} AFTER {event} ON feedback REFERENCING {tables} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
    )
]
PG_DOWN = [
    statement
    for name in PG_TRIGGERS
    for statement in (f"DROP TRIGGER {name} ON feedback", f"DROP FUNCTION {name}()")
]


def upgrade() -> None:
    op.create_table(
        "feedback_rollup",
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("cell", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("capability", sa.String(length=128), nullable=True),
        sa.Column("step", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("signal_type", sa.String(length=16), nullable=False),
        sa.Column("implicit", sa.Boolean(), nullable=False),
        sa.Column("link_status", sa.String(length=8), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("up", sa.BigInteger(), nullable=False),
        sa.Column("down", sa.BigInteger(), nullable=False),
        sa.Column("value_count", sa.BigInteger(), nullable=False),
        sa.Column("value_sum", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("project", "day", "cell", name=op.f("pk_feedback_rollup")),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_query")
        batch_op.create_index("ix_feedback_query", NEW_INDEX, unique=False)
    postgres = op.get_bind().dialect.name == "postgresql"
    op.execute(_backfill(postgres))
    for statement in PG_UP if postgres else SQLITE_UP:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in PG_DOWN if postgres else SQLITE_DOWN:
        op.execute(statement)
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_query")
        batch_op.create_index("ix_feedback_query", OLD_INDEX, unique=False)
    op.drop_table("feedback_rollup")
