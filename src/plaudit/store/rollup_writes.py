"""Keeping the per-day rollups exact as events are inserted, revised, linked and deleted.

Every write to `feedback` brackets itself with these: `remove(ids)` before a row changes or goes
(its old contribution leaves its cell), `add(ids)` after a row is inserted or changed (its new
contribution joins its cell). Each is one set-based statement per rollup over the rows' ids, so a
group commit of 500 events costs two grouped upserts, not 500 trigger runs (row triggers were
measured at 3-4× the insert cost on SQLite). Cells whose count reaches zero are removed, so a
rollup never shows an empty group. The SQL reads the stored rows, so a cell is computed the same
way on every path; `rebuild` recomputes everything (migration 0005 uses it to backfill).

`value_sum` is a float kept by adding and subtracting, which is exact only while every value that
ever joined the cell is integral and small (ratings, thumbs, booleans: 1e16 + 1 - 1e16 is 0.0).
`value_inexact` counts the other values that joined, and is never decreased: a value leaving may
leave its rounding behind. A sum or average over cells with any reads the events instead.

A cell is keyed by its dimension values as a JSON array (MD5 of it on PostgreSQL, to keep long
metadata values within a B-tree key): unlike a unique index over nullable columns, it tells NULL
from "".

Events just inserted are added from the rows the writer already holds (`add_inserted`): summed
per cell in Python, then upserted, up to 16 cells per statement. Reading them back cost two
scans per group commit (on PostgreSQL, on a table the planner had not yet analysed, each read
every event of the project; on SQLite, the two statements parsing each event's metadata were a
third of a one-event commit's SQL). The cell is still computed by the database, from parameters
of the columns' own types, so it is the same text the SQL path makes. On PostgreSQL a metadata
number is the float8 that jsonb's numeric converts to, which is Python's float (both round the
decimal correctly; numeric has no -0). On SQLite, whose JSON functions parse and format numbers
their own way, a row whose metadata holds anything but strings, booleans and integers that are
exact as doubles (or holds an escaped character) is read back in SQL as before.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import msgspec
from sqlalchemy import Connection, Table

from plaudit.store.bulk import execute, execute_all
from plaudit.store.schema import (
    ROLLUP_DIMENSIONS,
    feedback_metadata_rollup,
    feedback_rollup,
)

DAY: Final = 86_400_000_000
MEASURES: Final = ("count", "up", "down", "value_count", "value_sum", "value_inexact")
ENTRY: Final = ("key", "value_type", "value_text", "value_num")
"""A metadata entry's columns."""
CHUNK: Final = 500
EXACT: Final = 2**20
"""Integral values up to this size add and subtract exactly in `value_sum` (a float), in cells of
up to 2**32 events."""


@dataclass(frozen=True)
class Rollup:
    """A rollup table: per day, the events' sums for each combination of `dimensions`.

    With `metadata`, each event contributes once per top-level metadata entry holding a string,
    number or boolean, and the entry is part of the combination.
    """

    table: Table
    dimensions: tuple[str, ...]
    metadata: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        """The table's columns, in the order contributions list them."""
        return ("project", "day", "cell", *self.dimensions, *self._entry_names, *MEASURES)

    @property
    def _entry_names(self) -> tuple[str, ...]:
        return ENTRY if self.metadata else ()

    @property
    def key(self) -> tuple[str, ...]:
        """The primary key."""
        return tuple(c.name for c in self.table.primary_key.columns)

    def _entry(self, postgres: bool) -> list[str]:
        if not self.metadata:
            return []
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

    def _cell(self, postgres: bool) -> str:
        values = ", ".join([*(f'r."{d}"' for d in self.dimensions), *self._entry(postgres)])
        if postgres:
            return f"md5(json_build_array({values})::text)"
        return f"json_array({values})"

    def _events(self, postgres: bool) -> str:
        """FROM and WHERE over the events (aliased `r`), and their metadata entries (`m`)."""
        if not self.metadata:
            return " FROM feedback AS r WHERE true"
        if postgres:
            return f" FROM feedback AS r, LATERAL {_PG_ENTRIES} AS m WHERE true"
        return f" FROM feedback AS r, json_each(r.metadata) AS m WHERE m.type IN ({_SCALARS})"

    def contributions(self, postgres: bool, sign: str) -> str:
        """SELECT of each event's contribution to its cell, labelled like `columns`."""
        expressions = [
            "r.project",
            _day(postgres),
            self._cell(postgres),
            *(f'r."{d}"' for d in self.dimensions),
            *self._entry(postgres),
            *_measures(sign),
        ]
        listed = ", ".join(f'{e} AS "{c}"' for e, c in zip(expressions, self.columns, strict=True))
        return f"SELECT {listed}{self._events(postgres)}"

    def summed(self, rows: str) -> str:
        """INSERT of `rows` (contributions) summed per cell, adding to cells that exist."""
        groups = _quoted(self.columns[: -len(MEASURES)])
        sums = ", ".join(f'sum("{m}")' for m in MEASURES)
        added = ", ".join(f'"{m}" = {self.table.name}."{m}" + excluded."{m}"' for m in MEASURES)
        # The WHERE in `rows` tells SQLite's parser the ON CONFLICT belongs to the INSERT.
        return (
            f"INSERT INTO {self.table.name} ({_quoted(self.columns)}) "
            f"SELECT {groups}, {sums} FROM ({rows}) AS deltas WHERE true GROUP BY {groups} "
            f"ON CONFLICT ({_quoted(self.key)}) DO UPDATE SET {added}"
        )


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _day(postgres: bool) -> str:
    # Floors also before 1970 (`%` keeps the dividend's sign). psycopg reserves `%`: use mod().
    remainder = (
        f'mod(mod(r."timestamp", {DAY}) + {DAY}, {DAY})'
        if postgres
        else f'((r."timestamp" % {DAY}) + {DAY}) % {DAY}'
    )
    return f'(r."timestamp" - {remainder})'


def _measures(sign: str) -> list[str]:
    thumb = "r.kind = 'thumb'"
    return [
        f"{sign}1",
        f"{sign}(CASE WHEN {thumb} AND r.value_num > 0 THEN 1 ELSE 0 END)",
        f"{sign}(CASE WHEN {thumb} AND r.value_num < 0 THEN 1 ELSE 0 END)",
        f"{sign}(CASE WHEN r.value_num IS NOT NULL THEN 1 ELSE 0 END)",
        f"{sign}COALESCE(r.value_num, 0.0)",
        # Added, never taken away (see the module's docstring).
        "0"
        if sign
        else f"(CASE WHEN r.value_num <> round(r.value_num) "
        f"OR abs(r.value_num) > {EXACT} THEN 1 ELSE 0 END)",
    ]


_SCALARS: Final = "'text', 'integer', 'real', 'true', 'false'"
_PG_ENTRIES: Final = (
    "(SELECT key, CASE jsonb_typeof(value) WHEN 'string' THEN 's' WHEN 'number' THEN 'n' "
    "ELSE 'b' END AS value_type, "
    "CASE WHEN jsonb_typeof(value) = 'string' THEN value #>> '{}' END AS value_text, "
    "CASE jsonb_typeof(value) WHEN 'number' THEN (value #>> '{}')::float8 "
    "WHEN 'boolean' THEN CASE WHEN value = 'true'::jsonb THEN 1.0 ELSE 0.0 END END AS value_num "
    "FROM jsonb_each(r.metadata) WHERE jsonb_typeof(value) IN ('string', 'number', 'boolean'))"
)

ROLLUPS: Final = (
    Rollup(feedback_rollup, ROLLUP_DIMENSIONS),
    Rollup(feedback_metadata_rollup, ("name", "capability"), metadata=True),
)


def add(connection: Connection, project: str, ids: Sequence[str]) -> None:
    """Add the contributions of these stored events (just inserted or changed)."""
    _apply(connection, project, ids, "")


def remove(connection: Connection, project: str, ids: Sequence[str]) -> None:
    """Take away the contributions of these stored events (about to change or go)."""
    _apply(connection, project, ids, "-")


def rebuild(connection: Connection) -> None:
    """Recompute every rollup from the events."""
    postgres = connection.dialect.name == "postgresql"
    for rollup in ROLLUPS:
        connection.exec_driver_sql(f"DELETE FROM {rollup.table.name}")
        connection.exec_driver_sql(rollup.summed(rollup.contributions(postgres, "")))


def _apply(connection: Connection, project: str, ids: Sequence[str], sign: str) -> None:
    unique = sorted(set(ids))
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        for statement in _statements(connection.dialect.name, len(chunk), sign):
            execute(connection, statement, (project, *chunk))


@lru_cache(maxsize=64)
def _statements(dialect: str, count: int, sign: str) -> tuple[str, ...]:
    """The statements that add (or, with sign '-', remove) `count` events of one project."""
    postgres = dialect == "postgresql"
    marker = "%s" if postgres else "?"
    chosen = f" AND r.project = {marker} AND r.id IN ({', '.join([marker] * count)})"
    statements = []
    for rollup in ROLLUPS:
        rows = rollup.contributions(postgres, sign) + chosen
        statements.append(rollup.summed(rows))
        if sign:
            statements.append(_drop_empty(rollup, rows))
    return tuple(statements)


def _drop_empty(rollup: Rollup, rows: str) -> str:
    key = _quoted(rollup.key)
    return (
        f"DELETE FROM {rollup.table.name} WHERE count = 0 "
        f"AND ({key}) IN (SELECT {key} FROM ({rows}) AS gone)"
    )


def add_inserted(connection: Connection, project: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """`add` for rows just inserted, summed from the rows themselves.

    The writer holds the rows it inserts: it sums them per cell and upserts one row per cell,
    instead of reading them back and parsing their metadata in SQL. The cell key is still made
    by the database's own function over parameters (`json_array` on SQLite, `md5` of
    `json_build_array` on PostgreSQL), so it is the text the SQL path makes for the same values.
    On SQLite, whose JSON parser is not bound to round every decimal to the double Python's
    does, a row whose metadata holds a non-integral or very large number, or an escaped
    character, is added in SQL instead (`_metadata_entries` tells which).
    """
    postgres = connection.dialect.name == "postgresql"
    summed: list[tuple[Mapping[str, Any], list[Entry]]] = []
    in_sql: list[str] = []
    for row in rows:
        entries = _metadata_entries(row["metadata"], exact_only=not postgres)
        if entries is None:
            in_sql.append(row["id"])
        else:
            summed.append((row, entries))
    add(connection, project, in_sql)
    if not summed:
        return
    statements: list[tuple[str, list[Any]]] = []
    for rollup in ROLLUPS:
        cells = list(_summed_cells(rollup, summed).items())
        for start in range(0, len(cells), CELLS_PER_STATEMENT):
            chunk = cells[start : start + CELLS_PER_STATEMENT]
            params: list[Any] = []
            for key, measures in chunk:  # project, day, the cell's values twice, measures
                params += key
                params += key[2:]
                params += measures
            statements.append((_upsert(rollup, len(chunk), postgres), params))
    execute_all(connection, statements)


CELLS_PER_STATEMENT: Final = 16
"""Cells upserted per multi-row statement: one text per count up to this, each prepared once
(`executemany` cost twice the client CPU for the one or two cells of a small commit)."""


Cell = tuple[Any, ...]
"""project, day, the dimension values and (metadata rollups) the entry's."""
Entry = tuple[Any, ...]
"""A metadata entry: key, value type, text, number."""


def _summed_cells(
    rollup: Rollup, rows: Iterable[tuple[Mapping[str, Any], list[Entry]]]
) -> dict[Cell, list[Any]]:
    cells: dict[Cell, list[Any]] = {}
    for row, metadata in rows:
        timestamp = row["timestamp"]
        base = (row["project"], timestamp - timestamp % DAY, *(row[d] for d in rollup.dimensions))
        measures = _row_measures(row["kind"], row["value_num"])
        entries = metadata if rollup.metadata else [()]
        for entry in entries:
            sums = cells.get(key := (*base, *entry))
            if sums is None:
                cells[key] = list(measures)
            else:
                for at, measure in enumerate(measures):
                    sums[at] += measure
    return cells


def _row_measures(kind: str, value: float | None) -> tuple[Any, ...]:
    """An event's contribution, as `_measures` computes it in SQL."""
    thumb = kind == "thumb"
    if value is None:
        return (1, 0, 0, 0, 0.0, 0)
    inexact = not value.is_integer() or abs(value) > EXACT
    return (1, int(thumb and value > 0), int(thumb and value < 0), 1, value, int(inexact))


def _metadata_entries(encoded: str | None, exact_only: bool) -> list[Entry] | None:
    """The entries (key, type, text, number) the SQL path makes of a metadata column's text;
    with `exact_only`, None when a number or an escape might come out differently there."""
    if encoded is None:
        return []
    if exact_only and "\\" in encoded:
        return None
    metadata = msgspec.json.decode(encoded)
    if not isinstance(metadata, dict):
        return []
    entries: list[Entry] = []
    for key, value in metadata.items():
        if isinstance(value, bool):
            entries.append((key, "b", None, 1.0 if value else 0.0))
        elif isinstance(value, int | float):
            if exact_only and not (isinstance(value, int) and abs(value) <= _EXACT_FLOAT):
                return None
            # jsonb's numeric has no -0: the SQL path reads 0, and json_build_array writes
            # -0 and 0 apart. `+ 0.0` turns -0.0 into 0.0 and leaves every other value as is.
            entries.append((key, "n", None, float(value) + 0.0))
        elif isinstance(value, str):
            entries.append((key, "s", value, None))
    return entries


_EXACT_FLOAT: Final = 2**53
"""Integers up to this size become the same double in Python and in SQLite's CAST AS REAL."""


_PG_TYPES: Final = {"implicit": "boolean", "value_num": "float8"}


@lru_cache(maxsize=4 * CELLS_PER_STATEMENT)
def _upsert(rollup: Rollup, count: int, postgres: bool) -> str:
    """INSERT of `count` cells' sums from parameters, per cell: project, day, the cell's values
    (twice: for its key, then its columns) and the measures. A cell appears once per statement,
    as PostgreSQL's ON CONFLICT DO UPDATE requires."""
    values = [*rollup.dimensions, *rollup._entry_names]
    if postgres:
        typed = ", ".join(f"%s::{_PG_TYPES.get(name, 'text')}" for name in values)
        cell = f"md5(json_build_array({typed})::text)"
        marker = "%s"
    else:
        cell = f"json_array({', '.join(['?'] * len(values))})"
        marker = "?"
    markers = ", ".join([marker] * (len(values) + len(MEASURES)))
    row = f"({marker}, {marker}, {cell}, {markers})"
    added = ", ".join(f'"{m}" = {rollup.table.name}."{m}" + excluded."{m}"' for m in MEASURES)
    return (
        f"INSERT INTO {rollup.table.name} ({_quoted(rollup.columns)}) "
        f"VALUES {', '.join([row] * count)} "
        f"ON CONFLICT ({_quoted(rollup.key)}) DO UPDATE SET {added}"
    )
