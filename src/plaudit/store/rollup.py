"""Answering aggregate queries from the per-day rollups.

Two rollups (migration 0005) hold per-day sums: `feedback_rollup` per combination of the
low-cardinality fields, and `feedback_metadata_rollup` per name, capability and top-level
metadata entry. A query is answered from one of them when its metrics are sums of sums (count,
up, down, satisfaction, and sum, avg and pct_true of `value`), its time buckets are UTC days or
weeks, and its filters and groups use only that rollup's fields (for the metadata rollup: one
metadata key, which may be both filtered and grouped by). The whole days inside the time range come
from the rollup, the partial days at either end from the events, and the figures are added up per
group. Any other query reads the events (`sql_aggregate`).

Counts are exact; sums and averages equal the events' up to the order of floating-point additions
(the rollup adds per-day sums, the database adds events), and fall back to the events where the
rollup's float sums could have drifted (`value_inexact`, see `store.rollup_writes`).

Events lacking the grouped metadata key (or holding an object, array or null there) form the
group `null`: its figures are the day's totals from `feedback_rollup` less the entries'.
"""

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Connection,
    Table,
    and_,
    case,
    false,
    func,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement

from plaudit.core.query.fields import VALUE, Field, FieldKind
from plaudit.core.query.model import (
    Bucket,
    BucketUnit,
    Filter,
    Group,
    Metric,
    MetricFn,
    Op,
    Per,
    Query,
)
from plaudit.core.query.values import GroupKey
from plaudit.store.schema import ROLLUP_DIMENSIONS, feedback_metadata_rollup, feedback_rollup
from plaudit.store.sql_aggregate import AggregatePlan, Window
from plaudit.store.sql_query import Compiler, Offsets, apply_op, normalise_number

Expr = ColumnElement[Any]
Figures = list[float]
DAY: Final = 86_400_000_000
SUMS: Final = (
    "count", "up", "down", "value_count", "value_sum", "bool_count", "bool_sum", "value_inexact",
)  # fmt: skip
INEXACT: Final = SUMS.index("value_inexact")
COUNTED: Final = frozenset({MetricFn.COUNT, MetricFn.UP, MetricFn.DOWN, MetricFn.SATISFACTION})
OF_VALUE: Final = frozenset({MetricFn.SUM, MetricFn.AVG, MetricFn.PCT_TRUE})
EDGE_METRICS: Final = (
    Metric(MetricFn.COUNT),
    Metric(MetricFn.UP),
    Metric(MetricFn.SUM),
    Metric(MetricFn.PCT_TRUE),
)
"""Metrics whose inputs `AggregatePlan.sums()` needs."""

FIELDS: Final = frozenset({"project", *ROLLUP_DIMENSIONS})
METADATA_FIELDS: Final = frozenset({"project", "name", "capability"})


def metadata_key(target: Field) -> str | None:
    """The top-level key of a `metadata.<key>` field, else None."""
    # A digit segment indexes an array, and metadata is an object: such a path reads nothing.
    if target.root != "metadata" or len(target.path) != 1 or target.path[0].isdigit():
        return None
    return target.path[0]


@dataclass(frozen=True, slots=True)
class Source:
    """Which rollup answers a query; `key` is the metadata key for the metadata rollup."""

    table: Table
    key: str | None = None


def source_for(query: Query, offsets: Offsets | None) -> Source | None:
    """The rollup that can answer `query`, or None."""
    if query.per is not Per.EVENT:
        return None
    for metric in query.metrics:
        if metric.fn not in COUNTED and not (metric.fn in OF_VALUE and metric.target == VALUE):
            return None
    fields = [f.field for f in query.filters]
    for group in query.group_by:
        if isinstance(group, Bucket):
            if not _whole_days(group, offsets):
                return None
        else:
            fields.append(group)
    keys = {metadata_key(f) for f in fields if f.root == "metadata"}
    plain = [f for f in fields if f.root != "metadata"]
    if not keys:
        return Source(feedback_rollup) if all(_plain_in(f, FIELDS) for f in plain) else None
    if len(keys) != 1 or None in keys or not all(_plain_in(f, METADATA_FIELDS) for f in plain):
        return None
    if any(m.fn is MetricFn.PCT_TRUE for m in query.metrics):  # it keeps no kinds
        return None
    if any(f.field.root == "metadata" and _matches_null(f) for f in query.filters):
        return None
    return Source(feedback_metadata_rollup, keys.pop())


def _plain_in(target: Field, allowed: frozenset[str]) -> bool:
    return target.kind in (FieldKind.TEXT, FieldKind.BOOL) and target.root in allowed


def _matches_null(item: Filter) -> bool:
    values = item.value if isinstance(item.value, tuple) else (item.value,)
    return None in values


def _whole_days(group: Bucket, offsets: Offsets | None) -> bool:
    """Day and week buckets in UTC (or a zone at UTC+0 throughout the range) are unions of days."""
    if group.unit not in (BucketUnit.DAY, BucketUnit.WEEK):
        return False
    return offsets is None or (offsets[0] == 0 and not offsets[1])


def _floor_day(micros: int) -> int:
    return micros - micros % DAY


@dataclass(frozen=True, slots=True)
class Split:
    """A query's time range cut into whole days (from the rollup) and the partial days around."""

    days: Window
    edges: tuple[Window, ...]

    @classmethod
    def of(cls, window: Window) -> "Split | None":
        """The split, or None when the range holds no whole day."""
        first = None if window.since is None else -_floor_day(-window.since)
        end = None if window.until is None else _floor_day(window.until)
        if first is not None and end is not None and first >= end:
            return None
        edges = []
        if window.since is not None and first is not None and window.since < first:
            edges.append(Window(window.since, first))
        if window.until is not None and end is not None and end < window.until:
            edges.append(Window(end, window.until))
        return cls(Window(first, end), tuple(edges))


@dataclass(slots=True)
class _Columns:
    """How one group is selected from a rollup and decoded."""

    expressions: list[Expr]
    decode: Callable[[Sequence[Any]], Any]


@dataclass
class RollupPlan:
    """One query over one project, summed from rollup days and event edges."""

    query: Query
    project: str
    dialect: str
    source: Source
    split: Split
    offsets: Offsets | None = None

    @classmethod
    def of(
        cls, query: Query, project: str, dialect: str, window: Window, offsets: Offsets | None
    ) -> "RollupPlan | None":
        """The plan, or None when the query must read the events."""
        split = Split.of(window)
        source = source_for(query, offsets)
        if split is None or source is None:
            return None
        return cls(query, project, dialect, source, split, offsets)

    def answer(self, connection: Connection) -> dict[tuple[Any, ...], dict[str, Any]] | None:
        """Each group's raw figures: count, up, down and each value metric's number.

        None when the query sums or averages values the rollup cannot sum exactly (see
        `store.rollup_writes`): the caller then reads the events.
        """
        figures: dict[tuple[Any, ...], Figures] = {}
        if not self.query.group_by:
            figures[GroupKey()] = [0] * len(SUMS)
        if self.source.key is None:
            _add(figures, self._days(connection, feedback_rollup, self.query.group_by))
        else:
            entries = list(self._days(connection, feedback_metadata_rollup, self.query.group_by))
            _add(figures, entries)
            if self._groups_by_metadata() and not self._filters_metadata():
                _add(figures, self._without_entry(connection, entries))
        if self._sums_values() and any(sums[INEXACT] for sums in figures.values()):
            return None
        for edge in self.split.edges:
            _add(figures, self._events(connection, edge))
        # A group exists where it has events; without groups there is always the one row.
        return {key: _raw(self.query, sums) for key, sums in figures.items() if sums[0] or not key}

    # -- whole days -----------------------------------------------------------------------------

    def _days(
        self, connection: Connection, table: Table, groups: Sequence[Group]
    ) -> Iterable[tuple[GroupKey, Figures]]:
        """Decoded keys of `groups` and their figures over the whole days, from `table`."""
        day = type_coerce(table.c.day, BigInteger)
        compiler = Compiler(self.dialect, self.offsets, table=table, moment=day)
        columns = [self._columns(compiler, g) for g in groups]
        conditions = [table.c.project == self.project]
        if self.split.days.since is not None:
            conditions.append(day >= self.split.days.since)
        if self.split.days.until is not None:
            conditions.append(day < self.split.days.until)
        if self.source.key is not None and table is feedback_metadata_rollup:
            conditions.append(table.c.key == self.source.key)
        for item in self.query.filters:
            if item.field.root == "metadata":  # only the metadata rollup sees these
                conditions.append(_entry_condition(compiler, item))
            else:
                conditions.append(compiler.condition(item))
        keys = [e for c in columns for e in c.expressions]
        statement = select(*keys, *_rollup_sums(table)).where(*conditions)
        if keys:
            statement = statement.group_by(*keys)
        for row in connection.execute(statement):
            yield _decoded(columns, row), _floats(row[len(keys) :])

    def _columns(self, compiler: Compiler, group: Group) -> _Columns:
        if isinstance(group, Field) and group.root == "metadata":
            table = feedback_metadata_rollup.c
            return _Columns([table.value_type, table.value_text, table.value_num], _entry_value)
        sql = compiler.group(group)
        return _Columns([c.element for c in sql.inner], lambda values: values[0])

    def _sums_values(self) -> bool:
        return any(m.fn in (MetricFn.SUM, MetricFn.AVG) for m in self.query.metrics)

    def _groups_by_metadata(self) -> bool:
        return any(isinstance(g, Field) and g.root == "metadata" for g in self.query.group_by)

    def _filters_metadata(self) -> bool:
        return any(f.field.root == "metadata" for f in self.query.filters)

    def _without_entry(
        self, connection: Connection, entries: list[tuple[GroupKey, Figures]]
    ) -> Iterable[tuple[GroupKey, Figures]]:
        """The `null` metadata group: each group's day totals less its entries' figures."""
        at = next(
            i for i, g in enumerate(self.query.group_by)
            if isinstance(g, Field) and g.root == "metadata"
        )  # fmt: skip
        others = [g for i, g in enumerate(self.query.group_by) if i != at]
        remaining: dict[GroupKey, Figures] = {}
        for key, sums in self._days(connection, feedback_rollup, others):
            remaining[key] = sums
        for key, sums in entries:
            rest = GroupKey((*key[:at], *key[at + 1 :]))
            remaining[rest] = [a - b for a, b in zip(remaining[rest], sums, strict=True)]
        for others_key, sums in remaining.items():
            if sums[0]:
                yield GroupKey((*others_key[:at], None, *others_key[at:])), sums

    # -- partial days ---------------------------------------------------------------------------

    def _events(self, connection: Connection, edge: Window) -> Iterable[tuple[GroupKey, Figures]]:
        measured = dataclasses.replace(self.query, metrics=EDGE_METRICS, order=None, limit=None)
        plan = AggregatePlan(measured, self.project, self.dialect, edge, self.offsets)
        for row in connection.execute(plan.sums()):
            key, at = plan.decode_groups(row)
            yield key, [*_floats(row[at:]), 0.0]  # the events' own sums are not kept: exact


def _rollup_sums(table: Table) -> list[Expr]:
    columns = table.c
    sums = [func.sum(columns[name]) for name in ("count", "up", "down", "value_count", "value_sum")]
    inexact = func.sum(columns.value_inexact)
    if "kind" not in columns:  # the metadata rollup: pct_true is not served from it
        return [*sums, literal(0), literal(0.0), inexact]
    is_bool = columns.kind == "bool"
    return [
        *sums,
        func.sum(case((is_bool, columns.value_count), else_=0)),
        func.sum(case((is_bool, columns.value_sum), else_=0.0)),
        inexact,
    ]


def _floats(values: Sequence[Any]) -> Figures:
    """Figures as floats (PostgreSQL sums integers as numeric; no sum reaches 2**53)."""
    return [float(v or 0) for v in values]


def _entry_condition(compiler: Compiler, item: Filter) -> Expr:
    """A metadata filter over the metadata rollup's entry, as `Compiler.compare` reads JSON."""
    table = feedback_metadata_rollup.c
    values = item.value if isinstance(item.value, tuple) else (item.value,)
    op = Op.EQ if item.op is Op.IN else item.op
    matches = []
    for value in values:
        if isinstance(value, bool):
            matches.append(
                and_(table.value_type == "b", apply_op(table.value_num, op, float(value)))
            )
        elif isinstance(value, int | float):
            matches.append(
                and_(table.value_type == "n", apply_op(table.value_num, op, float(value)))
            )
        else:
            matches.append(
                and_(table.value_type == "s", compiler.compare_text(table.value_text, op, value))
            )
    return or_(false(), *matches)


def _entry_value(values: Sequence[Any]) -> Any:
    kind, text, number = values
    if kind == "s":
        return text
    if kind == "b":
        return number == 1
    return normalise_number(number)


def _decoded(columns: Sequence[_Columns], row: Sequence[Any]) -> GroupKey:
    key, at = [], 0
    for column in columns:
        width = len(column.expressions)
        key.append(column.decode(row[at : at + width]))
        at += width
    return GroupKey(key)


def _add(figures: dict[tuple[Any, ...], Figures], rows: Iterable[tuple[GroupKey, Figures]]) -> None:
    for key, sums in rows:
        current = figures.get(key)
        figures[key] = (
            sums if current is None else [a + b for a, b in zip(current, sums, strict=True)]
        )


def _raw(query: Query, sums: Figures) -> dict[str, Any]:
    count, up, down, value_count, value_sum, bool_count, bool_sum, _ = sums
    raw: dict[str, Any] = {"count": int(count), "up": int(up), "down": int(down)}
    for metric in query.metrics:
        if metric.fn is MetricFn.SUM:
            raw[metric.label] = value_sum if value_count else None
        elif metric.fn is MetricFn.AVG:
            raw[metric.label] = value_sum / value_count if value_count else None
        elif metric.fn is MetricFn.PCT_TRUE:
            raw[metric.label] = bool_sum / bool_count if bool_count else None
    return raw
