"""per-day rollups of feedback, kept exact by triggers; query index ordered by name then time

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

`feedback_rollup` holds, per project, UTC day and combination of the low-cardinality fields
(name, capability, step, kind, source, signal_type, implicit, link_status), how many events there
are, their thumbs up and down, and the count and sum of their numeric values.
`feedback_metadata_rollup` holds the same per name, capability and top-level metadata entry with
a string, number or boolean value. Queries built from those fields and metrics read them instead
of the events (store/rollup.py): satisfaction by capability × day over 1,000,000 events reads a
few thousand rollup rows instead of 400,000 index entries, and `count by metadata.plan` reads
rollup rows instead of parsing a million JSON documents.

Triggers keep both exact, so no write path can forget them: an insert adds its event's
contribution, a delete subtracts it, and an update (a revision, or linking that fills
`capability`/`step`) moves it. SQLite runs row triggers; PostgreSQL statement triggers over the
transition tables, so a multi-row insert costs one grouped upsert per rollup. Cells whose count
reaches zero are removed, so a rollup never shows an empty group.

`ix_feedback_query` now orders by name then time (and carries `trace_id`): the partial days of a
rollup query, the explorer's newest-first page and trace search by feedback read it in time
order and stop early.

A later migration that makes SQLite copy the `feedback` table (batch mode) must recreate these
triggers.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY = 86_400_000_000
MEASURES = ("count", "up", "down", "value_count", "value_sum")
KEY = ("project", "day", "cell")
ENTRY = ("key", "value_type", "value_text", "value_num")  # a metadata entry's columns
OLD_INDEX = ["project", "name", "capability", "timestamp", "kind", "value_num"]
NEW_INDEX = ["project", "name", "timestamp", "capability", "kind", "value_num", "trace_id"]


@dataclass(frozen=True)
class Rollup:
    """A rollup table: per day, the events' sums for each combination of `dimensions`.

    With `metadata`, each event contributes once per top-level metadata entry holding a string,
    number or boolean, and the entry (key, type, text, number) is part of the combination.
    """

    table: str
    dimensions: tuple[str, ...]
    metadata: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return (*KEY, *self.dimensions, *(ENTRY if self.metadata else ()), *MEASURES)

    def cell(self, row: str, postgres: bool) -> str:
        values = [f'{row}."{d}"' for d in self.dimensions]
        values += _entry(postgres) if self.metadata else []
        if postgres:  # md5 keeps the key short enough for a B-tree whatever the values
            return f"md5(json_build_array({', '.join(values)})::text)"
        return f"json_array({', '.join(values)})"

    def source(self, row: str, postgres: bool, table: str | None = None) -> str:
        """FROM and WHERE of one event (a trigger's NEW/OLD) or of a table aliased `row`."""
        events = [f"{table} AS {row}"] if table else []
        if not self.metadata:
            return f" FROM {events[0]} WHERE true" if events else " WHERE true"
        if postgres:
            return f" FROM {', '.join([*events, f'LATERAL {_pg_entries(row)} AS m'])} WHERE true"
        entries = f"json_each({row}.metadata) AS m"
        return f" FROM {', '.join([*events, entries])} WHERE m.type IN ({_SQLITE_SCALARS})"

    def contribution(self, row: str, postgres: bool, sign: str = "") -> str:
        """A select list, labelled like `columns`, of one event's contribution to its cell."""
        expressions = [
            f"{row}.project",
            _day(row),
            self.cell(row, postgres),
            *(f'{row}."{d}"' for d in self.dimensions),
            *(_entry(postgres) if self.metadata else ()),
            *_measures(row, sign),
        ]
        return ", ".join(f'{e} AS "{c}"' for e, c in zip(expressions, self.columns, strict=True))

    def grouped(self, rows: str, having: bool) -> str:
        """Insert `rows` (selects labelled like `columns`) summed per cell."""
        groups = _quoted(self.columns[: -len(MEASURES)])
        sums = ", ".join(f'sum("{m}")' for m in MEASURES)
        changed = " HAVING " + " OR ".join(f'sum("{m}") <> 0' for m in MEASURES) if having else ""
        return (
            f"INSERT INTO {self.table} ({_quoted(self.columns)}) "
            f"SELECT {groups}, {sums} FROM ({rows}) AS deltas "
            f"GROUP BY {groups}{changed} ORDER BY {_quoted(KEY)}"
        )

    def upsert(self) -> str:
        added = ", ".join(f'"{m}" = {self.table}."{m}" + excluded."{m}"' for m in MEASURES)
        return f" ON CONFLICT ({_quoted(KEY)}) DO UPDATE SET {added};"

    def backfill(self, postgres: bool) -> str:
        rows = f"SELECT {self.contribution('r', postgres)}{self.source('r', postgres, 'feedback')}"
        return self.grouped(rows, having=False)

    # -- SQLite: row triggers -------------------------------------------------------------------

    def sqlite_add(self, row: str) -> str:
        # The source's WHERE tells SQLite's parser the ON CONFLICT belongs to the INSERT.
        return (
            f"INSERT INTO {self.table} ({_quoted(self.columns)}) "
            f"SELECT {self.contribution(row, False)}{self.source(row, False)}{self.upsert()}"
        )

    def sqlite_remove(self, row: str) -> str:
        cells = f"SELECT {self.cell(row, False)}{self.source(row, False)}"
        where = f"project = {row}.project AND day = {_day(row)} AND cell IN ({cells})"
        less = ", ".join(
            f'"{m}" = "{m}" - {e}' for m, e in zip(MEASURES, _measures(row), strict=True)
        )
        return (
            f"UPDATE {self.table} SET {less} WHERE {where}; "
            f"DELETE FROM {self.table} WHERE {where} AND count = 0;"
        )

    def sqlite_triggers(self) -> list[str]:
        read = {*self.dimensions, "kind", "value_num", *(["metadata"] if self.metadata else [])}
        moved = " OR ".join(
            [f"{_day('OLD')} != {_day('NEW')}"]
            + [f'OLD."{c}" IS NOT NEW."{c}"' for c in sorted(read)]
        )
        name = self.table
        return [
            f"CREATE TRIGGER {name}_inserted AFTER INSERT ON feedback "
            f"BEGIN {self.sqlite_add('NEW')} END",
            f"CREATE TRIGGER {name}_deleted AFTER DELETE ON feedback "
            f"BEGIN {self.sqlite_remove('OLD')} END",
            f"CREATE TRIGGER {name}_updated AFTER UPDATE ON feedback WHEN {moved} "
            f"BEGIN {self.sqlite_remove('OLD')} {self.sqlite_add('NEW')} END",
        ]

    def sqlite_drops(self) -> list[str]:
        return [f"DROP TRIGGER {self.table}_{e}" for e in ("inserted", "deleted", "updated")]

    # -- PostgreSQL: statement triggers over transition tables ----------------------------------

    def pg_rows(self, table: str, sign: str = "") -> str:
        return f"SELECT {self.contribution('r', True, sign)}{self.source('r', True, table)}"

    def pg_drop_empty(self, table: str) -> str:
        return (
            f"DELETE FROM {self.table} AS f USING (SELECT DISTINCT r.project, {_day('r')} AS day, "
            f"{self.cell('r', True)} AS cell{self.source('r', True, table)}) AS gone "
            "WHERE f.project = gone.project AND f.day = gone.day AND f.cell = gone.cell "
            "AND f.count = 0;"
        )

    def pg_triggers(self) -> dict[str, tuple[str, str, str]]:
        """name: (event, transition tables, function body)."""
        name = self.table
        added = self.grouped(self.pg_rows("new_rows"), having=False) + self.upsert()
        removed = (
            self.grouped(self.pg_rows("old_rows", "-"), having=True)
            + self.upsert()
            + self.pg_drop_empty("old_rows")
        )
        both = f"{self.pg_rows('new_rows')} UNION ALL {self.pg_rows('old_rows', '-')}"
        moved = self.grouped(both, having=True) + self.upsert() + self.pg_drop_empty("old_rows")
        return {
            f"{name}_inserted": ("INSERT", "NEW TABLE AS new_rows", added),
            f"{name}_deleted": ("DELETE", "OLD TABLE AS old_rows", removed),
            f"{name}_updated": ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows", moved),
        }

    def pg_creates(self) -> list[str]:
        return [
            statement
            for name, (event, tables, body) in self.pg_triggers().items()
            for statement in (
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN {body} RETURN NULL; END $$",
                f"CREATE TRIGGER {name} AFTER {event} ON feedback REFERENCING {tables} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
            )
        ]

    def pg_drops(self) -> list[str]:
        return [
            statement
            for name in self.pg_triggers()
            for statement in (f"DROP TRIGGER {name} ON feedback", f"DROP FUNCTION {name}()")
        ]


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _day(row: str) -> str:
    # `%` keeps the dividend's sign in both stores; this floors, also before 1970.
    stamp = f'{row}."timestamp"'
    return f"({stamp} - ((({stamp} % {DAY}) + {DAY}) % {DAY}))"


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


_SQLITE_SCALARS = "'text', 'integer', 'real', 'true', 'false'"


def _entry(postgres: bool) -> list[str]:
    """(key, value_type, value_text, value_num) of the metadata entry `m`."""
    if postgres:
        return [f"m.{e}" for e in ENTRY]
    return [
        "m.key",
        "CASE m.type WHEN 'text' THEN 's' WHEN 'integer' THEN 'n' WHEN 'real' THEN 'n' "
        "ELSE 'b' END",
        "CASE WHEN m.type = 'text' THEN m.atom END",
        "CASE m.type WHEN 'integer' THEN CAST(m.atom AS REAL) WHEN 'real' THEN m.atom "
        "WHEN 'true' THEN 1.0 WHEN 'false' THEN 0.0 END",
    ]


def _pg_entries(row: str) -> str:
    kind = "jsonb_typeof(value)"
    return (
        f"(SELECT key, CASE {kind} WHEN 'string' THEN 's' WHEN 'number' THEN 'n' ELSE 'b' END "
        f"AS value_type, CASE WHEN {kind} = 'string' THEN value #>> '{{}}' END AS value_text, "
        f"CASE {kind} WHEN 'number' THEN (value #>> '{{}}')::float8 "
        "WHEN 'boolean' THEN CASE WHEN value = 'true'::jsonb THEN 1.0 ELSE 0.0 END END "
        f"AS value_num FROM jsonb_each({row}.metadata) "
        f"WHERE {kind} IN ('string', 'number', 'boolean'))"
    )


FIELDS = Rollup(
    "feedback_rollup",
    ("name", "capability", "step", "kind", "source", "signal_type", "implicit", "link_status"),
)
METADATA = Rollup("feedback_metadata_rollup", ("name", "capability"), metadata=True)
ROLLUPS = (FIELDS, METADATA)


def _measure_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("up", sa.BigInteger(), nullable=False),
        sa.Column("down", sa.BigInteger(), nullable=False),
        sa.Column("value_count", sa.BigInteger(), nullable=False),
        sa.Column("value_sum", sa.Float(), nullable=False),
    ]


def _key_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("cell", sa.Text(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "feedback_rollup",
        *_key_columns(),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("capability", sa.String(length=128), nullable=True),
        sa.Column("step", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("signal_type", sa.String(length=16), nullable=False),
        sa.Column("implicit", sa.Boolean(), nullable=False),
        sa.Column("link_status", sa.String(length=8), nullable=False),
        *_measure_columns(),
        sa.PrimaryKeyConstraint("project", "day", "cell", name=op.f("pk_feedback_rollup")),
    )
    op.create_table(
        "feedback_metadata_rollup",
        *_key_columns(),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("capability", sa.String(length=128), nullable=True),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value_type", sa.String(length=1), nullable=False),
        sa.Column("value_text", sa.Text(), nullable=True),
        sa.Column("value_num", sa.Float(), nullable=True),
        *_measure_columns(),
        sa.PrimaryKeyConstraint("project", "day", "cell", name=op.f("pk_feedback_metadata_rollup")),
    )
    with op.batch_alter_table("feedback_rollup", schema=None) as batch_op:
        batch_op.create_index("ix_feedback_rollup_name", ["project", "name", "day"])
    with op.batch_alter_table("feedback_metadata_rollup", schema=None) as batch_op:
        batch_op.create_index("ix_feedback_metadata_rollup_key", ["project", "key", "day"])
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_query")
        batch_op.create_index("ix_feedback_query", NEW_INDEX, unique=False)
    postgres = op.get_bind().dialect.name == "postgresql"
    for rollup in ROLLUPS:
        op.execute(rollup.backfill(postgres))
        for statement in rollup.pg_creates() if postgres else rollup.sqlite_triggers():
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for rollup in ROLLUPS:
        for statement in rollup.pg_drops() if postgres else rollup.sqlite_drops():
            op.execute(statement)
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_query")
        batch_op.create_index("ix_feedback_query", OLD_INDEX, unique=False)
    op.drop_table("feedback_metadata_rollup")
    op.drop_table("feedback_rollup")
