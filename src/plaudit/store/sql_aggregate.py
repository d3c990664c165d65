"""The statements of one aggregate query: the `rows` subquery and what is computed over it.

`rows` has one row per matching event. Over it:
- `aggregate()` groups and computes count, count_distinct, sum, avg, min, max, pct_true, up, down;
- `numbers()` lists each group's values, for nearest-rank percentiles picked in Python;
- `sums()` computes what a rollup keeps, for the partial days of a rollup-served query;
- `distribution()` counts each group's values;
- `latest()` keeps, for `per span`, each (group, span, user)'s latest event for reduction in Python.
"""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

from plaudit.core.query.fields import VALUE, Field
from plaudit.core.query.model import NUMERIC, THUMBS, Metric, MetricFn, Query
from plaudit.core.query.values import GroupKey
from plaudit.store.schema import feedback
from plaudit.store.sql_query import Compiler, GroupSql, Offsets, event_micros, thumb_value

Expr = ColumnElement[Any]


@dataclass(frozen=True, slots=True)
class Window:
    """The time range of a query, in micros since the epoch (either end may be open)."""

    since: int | None = None
    until: int | None = None


@dataclass
class AggregatePlan:
    """Everything needed to run one query over one project's events."""

    query: Query
    project: str
    dialect: str
    window: Window = field(default_factory=Window)
    offsets: Offsets | None = None

    def __post_init__(self) -> None:
        self.compiler = Compiler(self.dialect, self.offsets, project=self.project)
        self.groups = [self.compiler.group(g) for g in self.query.group_by]
        self.inputs: dict[tuple[str, str], tuple[str, Expr]] = {}
        self.distributions: dict[str, GroupSql] = {}
        for metric in self.query.metrics:
            self._register(metric)
        self.rows = self._rows()

    def _register(self, metric: Metric) -> None:
        fn, target = metric.fn, metric.target
        if fn is MetricFn.COUNT_DISTINCT:
            self.input("text", target)
        elif fn in NUMERIC:
            self.input("number", target)
        elif fn is MetricFn.PCT_TRUE:
            self.input("boolean", target)
        elif fn in THUMBS:
            self.input("thumb", target)
        elif fn is MetricFn.DISTRIBUTION and target.name not in self.distributions:
            self.distributions[target.name] = self.compiler.group(target, stem="d")

    def input(self, role: str, target: Field) -> str:
        """The label in `rows` of a metric input (registered on first use)."""
        key = (role, target.name)
        if key not in self.inputs:
            expression = self._input_expression(role, target)
            label = self.compiler.label(role[0])
            self.inputs[key] = (label, expression.label(label))
        return self.inputs[key][0]

    def _input_expression(self, role: str, target: Field) -> Expr:
        if role == "number":
            return self.compiler.number(target)
        if role == "boolean":
            return self.compiler.boolean(target)
        if role == "thumb":
            return thumb_value
        column: Expr = feedback.c[target.root]
        return column

    def _rows(self) -> Subquery:
        columns: list[Any] = [c for g in self.groups for c in g.inner]
        columns += [labelled for _, labelled in self.inputs.values()]
        columns += [c for d in self.distributions.values() for c in d.inner]
        columns += [
            feedback.c.span_id.label("span_id"),
            feedback.c.user_id.label("user_id"),
            feedback.c.id.label("event_id"),
            event_micros.label("at"),
        ]
        conditions = [feedback.c.project == self.project]
        if self.window.since is not None:
            conditions.append(event_micros >= self.window.since)
        if self.window.until is not None:
            conditions.append(event_micros < self.window.until)
        conditions += [self.compiler.condition(f) for f in self.query.filters]
        source = self.compiler.source()
        return select(*columns).select_from(source).where(*conditions).subquery("rows")

    def group_keys(self, columns: Any) -> list[Expr]:
        return [columns[name] for g in self.groups for name in g.keys]

    def group_outputs(self, columns: Any) -> list[Expr]:
        return [c for g in self.groups for c in g.aggregated(columns)]

    def decode_groups(self, row: Any) -> tuple[GroupKey, int]:
        """The decoded group key of a result row, and where the rest of the row starts."""
        key: list[Any] = []
        at = 0
        for group in self.groups:
            key.append(group.decode(row[at : at + group.width]))
            at += group.width
        return GroupKey(key), at

    # -- statements -----------------------------------------------------------------------------

    def aggregate(self) -> tuple[Select[Any], list[str]]:
        """The grouped statement for the metrics SQL computes directly, and its column names."""
        rows = self.rows.c
        outputs: list[Expr] = []
        names: list[str] = []

        def add(name: str, expression: Expr) -> None:
            if name not in names:
                names.append(name)
                outputs.append(expression)

        add("count", func.count())  # always: it makes every group a row, even with no other metric
        for metric in self.query.metrics:
            fn, target = metric.fn, metric.target
            if fn is MetricFn.COUNT_DISTINCT:
                add(metric.label, func.count(rows[self.input("text", target)].distinct()))
            elif fn in (MetricFn.SUM, MetricFn.AVG, MetricFn.MIN, MetricFn.MAX):
                column = rows[self.input("number", target)]
                add(metric.label, getattr(func, fn.value)(column))
            elif fn is MetricFn.PCT_TRUE:
                add(metric.label, func.avg(rows[self.input("boolean", target)]))
            elif fn in THUMBS:
                thumb = rows[self.input("thumb", target)]
                add("up", func.count(_when(thumb > 0)))
                add("down", func.count(_when(thumb < 0)))
        statement = (
            select(*self.group_outputs(rows), *outputs)
            .select_from(self.rows)
            .group_by(*self.group_keys(rows))
        )
        return statement, names

    def sums(self) -> Select[Any]:
        """Per group, the figures a rollup keeps (`store.rollup.SUMS`), from the events.

        The query must measure `up`, `sum` and `pct_true` of `value`, so their inputs are in `rows`.
        """
        rows = self.rows.c
        thumb = rows[self.input("thumb", VALUE)]
        number = rows[self.input("number", VALUE)]
        boolean = rows[self.input("boolean", VALUE)]
        return (
            select(
                *self.group_outputs(rows),
                func.count(),
                func.count(_when(thumb > 0)),
                func.count(_when(thumb < 0)),
                func.count(number),
                func.coalesce(func.sum(number), 0.0),
                func.count(boolean),
                func.coalesce(func.sum(boolean), 0.0),
            )
            .select_from(self.rows)
            .group_by(*self.group_keys(rows))
        )

    def numbers(self, target: Field) -> Select[Any]:
        """Each event's group columns and number (events without a number left out).

        Percentiles are picked from these in Python: sorting there is several times faster than
        SQLite's window functions, and both stores then share one nearest-rank implementation.
        """
        value = self.rows.c[self.input("number", target)]
        plain = [c for g in self.groups for c in g.plain(self.rows.c)]
        return select(*plain, value).where(value.is_not(None))

    def distribution(self, name: str) -> Select[Any]:
        """Count of events per (group, value of the distributed field)."""
        values = self.distributions[name]
        rows = self.rows.c
        return (
            select(*self.group_outputs(rows), *values.aggregated(rows), func.count())
            .select_from(self.rows)
            .group_by(*self.group_keys(rows), *(rows[k] for k in values.keys))
        )

    def latest(self) -> Select[Any]:
        """`per span`: each (group, span, user)'s latest event with every metric input.

        Events without a user each count as a user of their own.
        """
        rows = self.rows.c
        anonymous = _when(rows.user_id.is_(None), rows.event_id)
        partition = [*self.group_keys(rows), rows.span_id, rows.user_id, anonymous]
        newest = func.row_number().over(
            partition_by=partition, order_by=[rows.at.desc(), rows.event_id.desc()]
        )
        inner_names = [c.name for g in self.groups for c in g.inner]
        inner_names += [label for label, _ in self.inputs.values()]
        inner_names += [c.name for d in self.distributions.values() for c in d.inner]
        ranked = (
            select(*(rows[n] for n in inner_names), rows.span_id, newest.label("rn"))
            .where(rows.span_id.is_not(None))
            .subquery("ranked")
        )
        columns = ranked.c
        return select(
            *(c for g in self.groups for c in g.plain(columns)),
            *(columns[label] for label, _ in self.inputs.values()),
            *(c for d in self.distributions.values() for c in d.plain(columns)),
            columns.span_id,
        ).where(columns.rn == 1)


def _when(condition: Expr, then: Any = 1) -> Expr:
    return case((condition, then))
