"""Answering aggregate queries from the per-day rollup, exactly.

`feedback_rollup` (migration 0005) holds per-day sums for each combination of the low-cardinality
fields. A query whose filters and groups use only those fields, whose time buckets are UTC days
or weeks, and whose metrics are sums of sums (count, up, down, satisfaction, sum, avg and
pct_true of `value`) is answered from it: the whole days inside the time range come from the
rollup, the partial days at either end from the events, and the two are added up per group. Any
other query reads the events (`sql_aggregate`).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Connection,
    Float,
    Select,
    case,
    cast,
    func,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine

from plaudit.core.query.fields import VALUE, FieldKind
from plaudit.core.query.model import Bucket, BucketUnit, Group, MetricFn, Per, Query
from plaudit.store.schema import ROLLUP_DIMENSIONS, feedback, feedback_rollup
from plaudit.store.sql_aggregate import Window
from plaudit.store.sql_query import Compiler, GroupSql, Offsets, event_micros, thumb_value

Expr = ColumnElement[Any]
DAY: Final = 86_400_000_000
FIELDS: Final = frozenset({"project", *ROLLUP_DIMENSIONS})
COUNTED: Final = frozenset({MetricFn.COUNT, MetricFn.UP, MetricFn.DOWN, MetricFn.SATISFACTION})
OF_VALUE: Final = frozenset({MetricFn.SUM, MetricFn.AVG, MetricFn.PCT_TRUE})
SUMS: Final[dict[str, type[TypeEngine[Any]]]] = {
    "count": BigInteger, "up": BigInteger, "down": BigInteger, "value_count": BigInteger,
    "value_sum": Float, "bool_count": BigInteger, "bool_sum": Float,
}  # fmt: skip
rollup_day: Final[ColumnElement[int]] = type_coerce(feedback_rollup.c.day, BigInteger)


def serves(query: Query, offsets: Offsets | None) -> bool:
    """Whether every part of `query` can be summed from the rollup."""
    if query.per is not Per.EVENT:
        return False
    for metric in query.metrics:
        if metric.fn not in COUNTED and not (metric.fn in OF_VALUE and metric.target == VALUE):
            return False
    if not all(_is_dimension(f.field) for f in query.filters):
        return False
    return all(_groups_by_day(g, offsets) or _is_dimension(g) for g in query.group_by)


def _is_dimension(group: Group) -> bool:
    if isinstance(group, Bucket):
        return False
    return group.kind in (FieldKind.TEXT, FieldKind.BOOL) and group.root in FIELDS


def _groups_by_day(group: Group, offsets: Offsets | None) -> bool:
    """Day and week buckets in UTC (or a zone at UTC+0 throughout the range) are unions of days."""
    if not isinstance(group, Bucket) or group.unit not in (BucketUnit.DAY, BucketUnit.WEEK):
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


@dataclass
class RollupPlan:
    """One query over one project, summed from rollup days and event edges."""

    query: Query
    project: str
    dialect: str
    split: Split
    offsets: Offsets | None = None

    @classmethod
    def of(
        cls, query: Query, project: str, dialect: str, window: Window, offsets: Offsets | None
    ) -> "RollupPlan | None":
        """The plan, or None when the query must read the events."""
        split = Split.of(window)
        if split is None or not serves(query, offsets):
            return None
        return cls(query, project, dialect, split, offsets)

    def statement(self) -> Select[Any]:
        """Group columns, then SUMS, one row per group (one row in all without groups)."""
        # Each part compiles the groups afresh, so their labels (g0, g1, …) are the same.
        days = Compiler(self.dialect, self.offsets, table=feedback_rollup, moment=rollup_day)
        groups = self._groups(days)
        parts = [self._days(days, groups)]
        for edge in self.split.edges:
            events = Compiler(self.dialect, self.offsets)
            parts.append(self._events(events, self._groups(events), edge))
        both = union_all(*parts).subquery("parts")
        keys = [both.c[name] for g in groups for name in g.keys]
        # PostgreSQL sums integers as numeric: cast back, so figures are ints and floats.
        sums = [
            cast(func.coalesce(func.sum(both.c[name]), 0), SUMS[name]).label(name) for name in SUMS
        ]
        return select(*keys, *sums).group_by(*keys)

    def answer(self, connection: Connection) -> dict[tuple[Any, ...], dict[str, Any]]:
        """Each group's raw figures: count, up, down and each value metric's number."""
        groups: dict[tuple[Any, ...], dict[str, Any]] = {}
        width = len(self.query.group_by)
        for row in connection.execute(self.statement()):
            sums = dict(zip(SUMS, row[width:], strict=True))
            figures: dict[str, Any] = {
                "count": sums["count"],
                "up": sums["up"],
                "down": sums["down"],
            }
            for metric in self.query.metrics:
                if metric.fn in OF_VALUE:
                    figures[metric.label] = _value_metric(metric.fn, sums)
            groups[tuple(row[:width])] = figures
        return groups

    def _groups(self, compiler: Compiler) -> list[GroupSql]:
        return [compiler.group(g) for g in self.query.group_by]

    def _days(self, compiler: Compiler, groups: Sequence[GroupSql]) -> Select[Any]:
        table = feedback_rollup.c
        is_bool = table.kind == "bool"
        conditions = [table.project == self.project]
        if self.split.days.since is not None:
            conditions.append(rollup_day >= self.split.days.since)
        if self.split.days.until is not None:
            conditions.append(rollup_day < self.split.days.until)
        conditions += [compiler.condition(f) for f in self.query.filters]
        sums = [
            func.sum(table["count"]),
            func.sum(table.up),
            func.sum(table.down),
            func.sum(table.value_count),
            func.sum(table.value_sum),
            func.sum(case((is_bool, table.value_count), else_=0)),
            func.sum(case((is_bool, table.value_sum), else_=0.0)),
        ]
        return _grouped(groups, sums, conditions)

    def _events(self, compiler: Compiler, groups: Sequence[GroupSql], edge: Window) -> Select[Any]:
        value = feedback.c.value_num
        is_bool = feedback.c.kind == "bool"
        conditions = [feedback.c.project == self.project]
        if edge.since is not None:
            conditions.append(event_micros >= edge.since)
        if edge.until is not None:
            conditions.append(event_micros < edge.until)
        conditions += [compiler.condition(f) for f in self.query.filters]
        sums = [
            func.count(),
            func.count(case((thumb_value > 0, 1))),
            func.count(case((thumb_value < 0, 1))),
            func.count(value),
            func.coalesce(func.sum(value), 0.0),
            func.count(case((is_bool, value))),
            func.coalesce(func.sum(case((is_bool, value))), 0.0),
        ]
        return _grouped(groups, sums, conditions)


def _grouped(
    groups: Sequence[GroupSql], sums: Sequence[Expr], conditions: Sequence[Expr]
) -> Select[Any]:
    inner = [column for g in groups for column in g.inner]
    labelled = [s.label(name) for s, name in zip(sums, SUMS, strict=True)]
    statement = select(*inner, *labelled).where(*conditions)
    return statement.group_by(*inner) if inner else statement


def _value_metric(fn: MetricFn, sums: dict[str, Any]) -> float | None:
    if fn is MetricFn.SUM:
        return float(sums["value_sum"]) if sums["value_count"] else None
    if fn is MetricFn.AVG:
        return sums["value_sum"] / sums["value_count"] if sums["value_count"] else None
    if fn is MetricFn.PCT_TRUE:
        return sums["bool_sum"] / sums["bool_count"] if sums["bool_count"] else None
    return None
