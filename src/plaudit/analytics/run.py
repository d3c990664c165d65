"""Run a query: compile it for the store, execute it under a time limit, shape the answer.

The answer is `{"columns": [{"name", "type"}], "rows": [[…]]}`: group columns first (in the
order of `by`), then metrics (as written). Rows are sorted by their group values unless the
query orders them by a column.

An answer holds at most `max_groups` groups (`query_groups`, 10,000 by default); past that the
query is refused (`QueryTooLarge`) rather than cut short, because a truncated answer would be
wrong for `order by … limit`. The time limit covers both the database's statements and the
Python that reads their rows (`Budget`).
"""

import time
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from plaudit.analytics.metrics import (
    SpanGroup,
    SpanReduction,
    nearest_rank,
    per_span_values,
    sorted_distribution,
)
from plaudit.core.limits import MAX_QUERY_GROUPS
from plaudit.core.query.fields import Field, FieldKind
from plaudit.core.query.model import (
    PERCENTILES,
    Bucket,
    Group,
    MetricFn,
    Per,
    Query,
    QueryError,
)
from plaudit.core.query.values import GroupKey, value_order
from plaudit.core.times import rfc3339
from plaudit.errors import PlauditError
from plaudit.store.rollup import RollupPlan
from plaudit.store.schema import feedback, from_micros, to_micros
from plaudit.store.sql_aggregate import AggregatePlan, Window
from plaudit.store.sql_query import Offsets, QueryTimeout, event_micros, time_limit

Row = TypeVar("Row")
DEFAULT_TIME_LIMIT: Final = 10.0
# Rows read between two looks at the clock: cheap enough not to show, often enough to stop
# within milliseconds of the deadline.
ROWS_PER_CLOCK_CHECK: Final = 256
INTEGER_METRICS: Final = frozenset(
    {MetricFn.COUNT, MetricFn.COUNT_DISTINCT, MetricFn.UP, MetricFn.DOWN}
)


class QueryTooLarge(PlauditError):
    """A query's answer would hold more groups than an answer may."""

    status, slug, title = 422, "query-too-large", "Query answer too large"


class Budget:
    """A query's limits as Python reads its rows: a deadline and a number of groups.

    The database's own limit (`time_limit`) stops only its statements; reducing millions of rows
    to percentiles or per-span values happens here, and is bounded by the same deadline.
    """

    def __init__(self, seconds: float, max_groups: int | None = MAX_QUERY_GROUPS) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.max_groups = max_groups

    def rows(self, rows: Iterable[Row]) -> Iterator[Row]:
        """`rows`, raising QueryTimeout once the deadline has passed."""
        for count, row in enumerate(rows):
            if count % ROWS_PER_CLOCK_CHECK == 0 and time.monotonic() > self.deadline:
                raise QueryTimeout(
                    f"the query ran longer than {self.seconds:g} s and was stopped; narrow it "
                    "with since/until or filters, or group by fewer fields"
                )
            yield row

    def check_groups(self, count: int) -> None:
        """Raise QueryTooLarge if an answer of `count` groups is past the limit."""
        if self.max_groups is not None and count > self.max_groups:
            raise QueryTooLarge(
                f"the answer has more than {self.max_groups:,} groups; group by fewer or coarser "
                "fields, or narrow it with since/until or filters",
                limit="query_groups",
            )


@dataclass(frozen=True, slots=True)
class Column:
    """One output column: its name and what its values are."""

    name: str
    type: str


@dataclass(frozen=True, slots=True)
class Answer:
    """A query's result, ready for a table or a chart."""

    columns: list[Column]
    rows: list[list[Any]]

    def to_json(self) -> dict[str, Any]:
        """The API's shape."""
        return {
            "columns": [{"name": c.name, "type": c.type} for c in self.columns],
            "rows": self.rows,
        }


def run_query(
    connection: Connection,
    query: Query,
    project: str,
    *,
    now: datetime | None = None,
    seconds: float = DEFAULT_TIME_LIMIT,
    use_rollup: bool = True,
    max_groups: int | None = MAX_QUERY_GROUPS,
) -> Answer:
    """Answer `query` over `project`'s events; QueryTimeout past `seconds`, QueryTooLarge past
    `max_groups` groups (None: no limit, for queries the server itself writes).

    Queries the per-day rollup can answer read it (see `store.rollup`); `use_rollup=False` reads
    the events whatever the query, which tests use to compare the two.
    """
    budget = Budget(seconds, max_groups)
    now = now or datetime.now(UTC)
    window = Window(
        to_micros(query.since.at(now) if not isinstance(query.since, datetime) else query.since)
        if query.since is not None
        else None,
        to_micros(query.until.at(now) if not isinstance(query.until, datetime) else query.until)
        if query.until is not None
        else None,
    )
    dialect = connection.dialect.name
    with time_limit(connection, seconds):
        offsets = _offsets(connection, query, project, window)
        rollup = RollupPlan.of(query, project, dialect, window, offsets) if use_rollup else None
        summed = rollup.answer(connection) if rollup is not None else None
        if summed is not None:
            budget.check_groups(len(summed))
            values = _metrics(query, summed)
        else:
            plan = AggregatePlan(query, project, dialect, window, offsets)
            per = _per_span if query.per is Per.SPAN else _per_event
            values = per(connection, plan, budget)
    rows = [
        [*(_show(g, v, query.tz) for g, v in zip(query.group_by, key, strict=True)),
         *(metrics[m.label] for m in query.metrics)]
        for key, metrics in sorted(values.items(), key=lambda kv: [value_order(v) for v in kv[0]])
    ]  # fmt: skip
    return Answer(_columns(query), _order(query, rows))


def _per_event(
    connection: Connection, plan: AggregatePlan, budget: Budget
) -> dict[tuple[Any, ...], dict[str, Any]]:
    statement, names = plan.aggregate()
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in budget.rows(connection.execute(statement)):
        key, at = plan.decode_groups(row)
        groups[key] = dict(zip(names, row[at:], strict=True))
        budget.check_groups(len(groups))
    _add_percentiles(connection, plan, groups, budget)
    _add_distributions(connection, plan, groups, budget)
    budget.check_groups(len(groups))
    return _metrics(plan.query, groups)


def _metrics(
    query: Query, groups: dict[tuple[Any, ...], dict[str, Any]]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Each group's metrics, from its raw figures."""
    return {
        key: {m.label: _metric_value(m.fn, m.label, raw) for m in query.metrics}
        for key, raw in groups.items()
    }


def _metric_value(fn: MetricFn, label: str, raw: dict[str, Any]) -> Any:
    if fn is MetricFn.COUNT:
        return raw["count"]
    if fn in (MetricFn.UP, MetricFn.DOWN):
        return raw[fn.value]
    if fn is MetricFn.SATISFACTION:
        up, down = raw["up"], raw["down"]
        return up / (up + down) if up + down else None
    if fn is MetricFn.DISTRIBUTION:
        return sorted_distribution(raw.get(label) or {})
    value = raw.get(label)
    return float(value) if value is not None and fn is not MetricFn.COUNT_DISTINCT else value


def _add_percentiles(
    connection: Connection,
    plan: AggregatePlan,
    groups: dict[tuple[Any, ...], dict[str, Any]],
    budget: Budget,
) -> None:
    by_target: dict[Field, list[tuple[str, int]]] = {}
    for metric in plan.query.metrics:
        if metric.fn in PERCENTILES:
            by_target.setdefault(metric.target, []).append((metric.label, PERCENTILES[metric.fn]))
    width = sum(g.width for g in plan.groups)
    for target, wanted in by_target.items():
        # Rows are keyed by their raw group columns, decoded once per distinct key (two raw keys
        # may decode to one group: the JSON numbers 1 and 1.0).
        by_raw_key: dict[tuple[Any, ...], array[float]] = {}
        for row in budget.rows(connection.execute(plan.numbers(target))):
            raw_key = tuple(row[:width])
            if (values := by_raw_key.get(raw_key)) is None:
                values = by_raw_key[raw_key] = array("d")
                budget.check_groups(len(by_raw_key))
            values.append(row[width])
        numbers: dict[tuple[Any, ...], array[float]] = {}
        for raw_key, values in by_raw_key.items():
            numbers.setdefault(plan.decode_groups(raw_key)[0], array("d")).extend(values)
        for key, values in numbers.items():
            ordered = sorted(values)
            figures = groups.setdefault(key, {})
            for label, percent in wanted:
                figures[label] = nearest_rank(ordered, percent)


def _add_distributions(
    connection: Connection,
    plan: AggregatePlan,
    groups: dict[tuple[Any, ...], dict[str, Any]],
    budget: Budget,
) -> None:
    for metric in plan.query.metrics:
        if metric.fn is not MetricFn.DISTRIBUTION:
            continue
        values = plan.distributions[metric.target.name]
        for row in budget.rows(connection.execute(plan.distribution(metric.target.name))):
            key, at = plan.decode_groups(row)
            value = values.decode(row[at : at + values.width])
            if value is not None:
                counts = groups.setdefault(key, {}).setdefault(metric.label, {})
                counts[GroupKey((value,))] = row[-1]


def _per_span(
    connection: Connection, plan: AggregatePlan, budget: Budget
) -> dict[tuple[Any, ...], dict[str, Any]]:
    labels = [label for label, _ in plan.inputs.values()]
    input_of = {key: label for key, (label, _) in plan.inputs.items()}
    texts = {label for (role, _), label in input_of.items() if role == "text"}
    groups: dict[tuple[Any, ...], SpanGroup] = {}
    if not plan.query.group_by:
        groups[GroupKey()] = SpanGroup()
    for row in budget.rows(connection.execute(plan.latest())):
        key, at = plan.decode_groups(row)
        inputs = dict(zip(labels, row[at : at + len(labels)], strict=True))
        at += len(labels)
        names: dict[str, Any] = {}
        for name, values in plan.distributions.items():
            names[name] = values.decode(row[at : at + values.width])
            at += values.width
        if (group := groups.get(key)) is None:
            group = groups[key] = SpanGroup()
            budget.check_groups(len(groups))
        for label in texts:
            if (text := inputs.pop(label)) is not None:
                group.distinct[label].add(text)
        group.spans.setdefault(row[at], SpanReduction()).add_user(inputs, names)
    return {
        key: per_span_values(group, plan.query.metrics, input_of) for key, group in groups.items()
    }


def _offsets(connection: Connection, query: Query, project: str, window: Window) -> Offsets | None:
    """The time zone's UTC offsets over the events' time span, for local time buckets."""
    if query.tz is None or not any(isinstance(g, Bucket) for g in query.group_by):
        return None
    bounds = select(func.min(event_micros), func.max(event_micros)).where(
        feedback.c.project == project
    )
    if window.since is not None:
        bounds = bounds.where(event_micros >= window.since)
    if window.until is not None:
        bounds = bounds.where(event_micros < window.until)
    first, last = connection.execute(bounds).one()
    if first is None:
        first = last = 0
    return zone_offsets(ZoneInfo(query.tz), first, last)


def zone_offsets(zone: ZoneInfo, start: int, end: int) -> Offsets:
    """The offset at `start` (micros) and every change of it up to `end`, to the second."""

    def offset(micros: int) -> int:
        delta = from_micros(micros).astimezone(zone).utcoffset() or timedelta(0)
        return delta // timedelta(microseconds=1)

    day = 86_400_000_000
    changes: list[tuple[int, int]] = []
    current, moment = offset(start), start
    while moment <= end:
        step = min(day, end + 1 - moment) if moment < end else 1
        following = offset(moment + step)
        if following != current:
            low, high = moment, moment + step  # offset(low) == current != offset(high)
            while high - low > 1_000_000:
                middle = (low + high) // 2
                low, high = (middle, high) if offset(middle) == current else (low, middle)
            changes.append((high - high % 1_000_000, following))
            current = following
        moment += step
    return offset(start), tuple(changes)


def _show(group: Group, value: Any, tz: str | None) -> Any:
    if not isinstance(group, Bucket) or value is None:
        return value
    if tz is None:
        return rfc3339(from_micros(value))
    local = datetime(1970, 1, 1) + timedelta(microseconds=value)  # noqa: DTZ001 - wall clock
    return local.replace(tzinfo=ZoneInfo(tz)).isoformat()


def _columns(query: Query) -> list[Column]:
    columns = [Column(g.name, _group_type(g)) for g in query.group_by]
    for metric in query.metrics:
        if metric.fn is MetricFn.DISTRIBUTION:
            kind = "distribution"
        elif metric.fn in INTEGER_METRICS:
            kind = "integer"
        else:
            kind = "number"
        columns.append(Column(metric.label, kind))
    return columns


def _group_type(group: Group) -> str:
    if isinstance(group, Bucket):
        return "time"
    return {FieldKind.TEXT: "string", FieldKind.BOOL: "bool"}.get(group.kind, "json")


def _order(query: Query, rows: list[list[Any]]) -> list[list[Any]]:
    if query.order is not None:
        index = query.columns.index(query.order.column)
        if any(isinstance(row[index], list) for row in rows):
            raise QueryError("cannot order by a distribution column")
        present = [r for r in rows if r[index] is not None]
        present.sort(key=lambda r: value_order(r[index]), reverse=query.order.descending)
        rows = present + [r for r in rows if r[index] is None]
    return rows[: query.limit] if query.limit else rows
