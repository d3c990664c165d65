"""The query model: filters, group-by, metrics and per-span reduction.

One immutable `Query` serves the API's structured form, the text form of the CLI and the console,
and the compilers in the store. Building one never touches a database; `check_*` functions say
why a combination makes no sense, so every front end refuses it with the same words.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from plaudit.core.query.fields import MESSAGES, VALUE, Field, FieldKind

Scalar = str | int | float | bool | None
"""A literal in a filter."""


class QueryError(ValueError):
    """A query that cannot run; `position` is the character offset in the text form, if any."""

    def __init__(self, message: str, position: int | None = None, pointer: str = "") -> None:
        where = f" (at position {position})" if position is not None else ""
        super().__init__(message + where)
        self.message = message
        self.position = position
        self.pointer = pointer


class Op(StrEnum):
    """How a filter compares a field with its literal."""

    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    IN = "in"
    CONTAINS = "contains"


ORDERING: Final = (Op.LT, Op.LE, Op.GT, Op.GE)


@dataclass(frozen=True, slots=True)
class Filter:
    """`field op value`; for `in`, `value` is a tuple of literals."""

    field: Field
    op: Op
    value: Scalar | tuple[Scalar, ...]


class BucketUnit(StrEnum):
    """Time bucket sizes for grouping by `timestamp`."""

    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


BUCKET_MICROS: Final = {
    BucketUnit.MINUTE: 60_000_000,
    BucketUnit.HOUR: 3_600_000_000,
    BucketUnit.DAY: 86_400_000_000,
    BucketUnit.WEEK: 7 * 86_400_000_000,
}

WEEK_ORIGIN_MICROS: Final = -3 * 86_400_000_000
"""Monday 1969-12-29 00:00 UTC: weeks are counted from a Monday, so they start on Mondays."""


@dataclass(frozen=True, slots=True)
class Bucket:
    """A time bucket of the event's `timestamp`."""

    unit: BucketUnit

    @property
    def name(self) -> str:
        """The column name: the unit."""
        return self.unit.value


Group = Field | Bucket


class MetricFn(StrEnum):
    """What a metric computes."""

    COUNT = "count"
    COUNT_DISTINCT = "count_distinct"
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    MEDIAN = "median"
    P90 = "p90"
    P95 = "p95"
    P98 = "p98"
    P99 = "p99"
    PCT_TRUE = "pct_true"
    UP = "up"
    DOWN = "down"
    SATISFACTION = "satisfaction"
    DISTRIBUTION = "distribution"


PERCENTILES: Final = {
    MetricFn.MEDIAN: 50,
    MetricFn.P90: 90,
    MetricFn.P95: 95,
    MetricFn.P98: 98,
    MetricFn.P99: 99,
}
NUMERIC: Final = frozenset({MetricFn.SUM, MetricFn.AVG, MetricFn.MIN, MetricFn.MAX, *PERCENTILES})
THUMBS: Final = frozenset({MetricFn.UP, MetricFn.DOWN, MetricFn.SATISFACTION})


@dataclass(frozen=True, slots=True)
class Metric:
    """One output column; `label` is its name, as written in the text form."""

    fn: MetricFn
    field: Field | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            label = self.fn.value if self.field is None else f"{self.fn.value}({self.field.name})"
            object.__setattr__(self, "label", label)

    @property
    def target(self) -> Field:
        """The field measured: a bare metric measures `value`."""
        return self.field or VALUE


def check_metric(fn: MetricFn, target: Field | None) -> str | None:
    """Why `fn` cannot measure `target`, or None."""
    kind = (target or VALUE).kind
    if fn is MetricFn.COUNT:
        return None if target is None else "`count` takes no field; count_distinct(field) does"
    if fn is MetricFn.COUNT_DISTINCT:
        if target is None or kind is not FieldKind.TEXT:
            return "count_distinct needs a text field, e.g. count_distinct(user_id)"
        return None
    if fn in THUMBS:
        return None if target in (None, VALUE) else f"`{fn.value}` counts thumbs of `value` only"
    if fn in NUMERIC and kind not in (FieldKind.VALUE, FieldKind.JSON):
        return f"`{fn.value}` needs a number: `value` or a path such as scores.relevance"
    if fn is MetricFn.PCT_TRUE and kind not in (FieldKind.VALUE, FieldKind.JSON, FieldKind.BOOL):
        return "pct_true needs booleans: `value`, `implicit` or a path"
    if fn is MetricFn.DISTRIBUTION and kind is FieldKind.TAGS:
        return "distribution of tags is not supported; group by a field instead"
    return None


def check_filter(item: Filter) -> str | None:
    """Why a filter cannot apply, or None."""
    kind = item.field.kind
    values = item.value if isinstance(item.value, tuple) else (item.value,)
    if item.field.root == MESSAGES and not (item.op is Op.CONTAINS and item.value):
        return '`messages` is searched for text: messages contains "refund"'
    if item.op is Op.CONTAINS:
        if not isinstance(item.value, str):
            return "`contains` takes a string"
        if kind in (FieldKind.BOOL, FieldKind.TAGS):
            return f"`{item.field.name}` cannot be searched with `contains`"
    if item.op in ORDERING and any(isinstance(v, bool) or v is None for v in values):
        return f"`{item.op.value}` compares numbers or strings, not booleans or null"
    if item.op is Op.IN and not isinstance(item.value, tuple):
        return "`in` takes a list of values"
    if kind is FieldKind.TAGS and (item.op not in (Op.EQ, Op.NE, Op.IN)):
        return "tags take =, != or in"
    if kind is FieldKind.TEXT and any(not isinstance(v, str | None) for v in values):
        return f"`{item.field.name}` holds text: compare it with a string in quotes"
    if kind is FieldKind.BOOL and any(not isinstance(v, bool) for v in values):
        return f"`{item.field.name}` is true or false"
    return None


class Per(StrEnum):
    """What one unit of aggregation is."""

    EVENT = "event"
    SPAN = "span"


@dataclass(frozen=True, slots=True)
class Ago:
    """A time relative to when the query runs (`since 7d`)."""

    delta: timedelta

    def at(self, now: datetime) -> datetime:
        """The moment this denotes for a query run at `now`."""
        return now - self.delta


Moment = datetime | Ago


@dataclass(frozen=True, slots=True)
class Order:
    """Sort the rows by one output column."""

    column: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    """An aggregate query over one project's feedback events."""

    metrics: tuple[Metric, ...]
    group_by: tuple[Group, ...] = ()
    filters: tuple[Filter, ...] = ()
    per: Per = Per.EVENT
    since: Moment | None = None
    until: Moment | None = None
    tz: str | None = None
    order: Order | None = None
    limit: int | None = None

    @property
    def columns(self) -> list[str]:
        """Output column names: the groups, then the metrics."""
        return [g.name for g in self.group_by] + [m.label for m in self.metrics]

    def check(self) -> None:
        """Raise QueryError if the query is not meaningful as a whole."""
        if not self.metrics:
            raise QueryError("a query needs at least one metric, e.g. count", pointer="/metrics")
        names = self.columns
        duplicated = {n for n in names if names.count(n) > 1}
        if duplicated:
            raise QueryError(f"column {sorted(duplicated)[0]!r} appears twice")
        for index, group in enumerate(self.group_by):
            if isinstance(group, Field) and group.name in ("comment", "tags"):
                raise QueryError(f"cannot group by `{group.name}`", pointer=f"/group_by/{index}")
        if self.order is not None and self.order.column not in names:
            raise QueryError(f"order by `{self.order.column}`: no such column; columns: {names}")
        if self.limit is not None and self.limit < 1:
            raise QueryError("limit must be at least 1", pointer="/limit")
