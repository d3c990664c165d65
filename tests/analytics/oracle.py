"""A plain-Python evaluation of a query over events held in memory: what every store must answer.

Written from docs/query.md, independently of the SQL compilers, and deliberately naive: it
takes no constant or helper from the code under test (bucket widths, percentiles and how a value
counts are written out here again), only the query's own types, which describe the question.
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from plaudit.core.query.fields import Field, FieldKind
from plaudit.core.query.model import (
    Bucket,
    BucketUnit,
    Filter,
    MetricFn,
    Op,
    Per,
    Query,
)  # fmt: skip

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = 60 * 1_000_000
WIDTH = {BucketUnit.MINUTE: MINUTE, BucketUnit.HOUR: 60 * MINUTE, BucketUnit.DAY: 1440 * MINUTE,
         BucketUnit.WEEK: 7 * 1440 * MINUTE}  # fmt: skip
# Weeks start on Monday 00:00; 1970-01-05 was a Monday.
MONDAY = (datetime(1970, 1, 5, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
PERCENT = {MetricFn.MEDIAN: 50, MetricFn.P90: 90, MetricFn.P95: 95, MetricFn.P98: 98,
           MetricFn.P99: 99}  # fmt: skip


def numeric_value(kind: str, value: Any) -> float | None:
    """What a value counts as in numbers: thumbs and numbers themselves, bools 1/0."""
    if kind in ("thumb", "number"):
        return float(value)
    return (1.0 if value else 0.0) if kind == "bool" else None


def label_value(kind: str, value: Any) -> str | None:
    """What a value counts as in text: enum and text values, thumb words, bool words."""
    if kind in ("enum", "text"):
        return str(value)
    if kind == "thumb":
        return "up" if value > 0 else "down"
    return ("true" if value else "false") if kind == "bool" else None


@dataclass
class Event:
    """One stored event as the oracle sees it."""

    data: dict[str, Any]  # the API's fields: id, name, kind, value, user_id, tags, …
    micros: int
    span_attributes: dict[str, Any] | None  # of the linked span, when it is stored


def _json_at(document: Any, path: tuple[str, ...]) -> tuple[str | None, Any]:
    node = document
    for segment in path:
        if isinstance(node, dict) and not segment.isdigit() and segment in node:
            node = node[segment]
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return None, None
    if isinstance(node, bool):
        return "b", node
    if isinstance(node, int | float):
        return "n", float(node)
    if isinstance(node, str):
        return "s", node
    if node is None:
        return "z", None
    return "o", node


def json_of(event: Event, target: Field) -> tuple[str | None, Any]:
    is_span = target.root == "span"
    document = event.span_attributes if is_span else event.data[target.root]
    return _json_at(document, target.path)


def number(event: Event, target: Field) -> float | None:
    if target.kind is FieldKind.VALUE:
        return numeric_value(event.data["kind"], event.data["value"])
    category, value = json_of(event, target)
    return value if category == "n" else None


def boolean(event: Event, target: Field) -> float | None:
    if target.kind is FieldKind.VALUE:
        return float(event.data["value"]) if event.data["kind"] == "bool" else None
    if target.kind is FieldKind.BOOL:
        return 1.0 if event.data["implicit"] else 0.0
    category, value = json_of(event, target)
    return (1.0 if value else 0.0) if category == "b" else None


def thumb(event: Event) -> float | None:
    return float(event.data["value"]) if event.data["kind"] == "thumb" else None


def normalise(value: float | None) -> Any:
    if value is None:
        return None
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


def scalar(event: Event, target: Field) -> Any:
    """A field's value as a group key (and distribution value)."""
    kind = target.kind
    if kind in (FieldKind.TEXT, FieldKind.BOOL):
        return event.data[target.root]
    if kind is FieldKind.VALUE:
        label = label_value(event.data["kind"], event.data["value"])
        return label if label is not None else normalise(number(event, target))
    category, value = json_of(event, target)
    if category == "n":
        return normalise(value)
    return value if category in ("s", "b") else None


def _fold(text: str) -> str:
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in text)


def _cmp(left: Any, op: Op, right: Any) -> bool:
    if left is None:
        return False
    return {
        Op.EQ: left == right, Op.NE: left != right, Op.LT: left < right, Op.LE: left <= right,
        Op.GT: left > right, Op.GE: left >= right,
    }[op]  # fmt: skip


def _text_match(text: Any, op: Op, value: Any) -> bool:
    if value is None:
        return (text is not None) if op is Op.NE else text is None
    if op is Op.CONTAINS:
        return text is not None and _fold(value) in _fold(text)
    return _cmp(text, op, value)


def matches(event: Event, item: Filter) -> bool:
    if item.op is Op.IN:
        return any(matches(event, Filter(item.field, Op.EQ, v)) for v in item.value)  # type: ignore[union-attr]
    target, op, value = item.field, item.op, item.value
    kind = target.kind
    if kind is FieldKind.TAGS:
        present = value in event.data["tags"]
        return not present if op is Op.NE else present
    if kind is FieldKind.BOOL:
        return _cmp(event.data["implicit"], op, value)
    if kind is FieldKind.TEXT:
        return _text_match(event.data[target.root], op, value)
    if kind is FieldKind.VALUE:
        num = numeric_value(event.data["kind"], event.data["value"])
        label = label_value(event.data["kind"], event.data["value"])
        if value is None:
            missing = num is None and label is None
            return not missing if op is Op.NE else missing
        if isinstance(value, bool):
            return event.data["kind"] == "bool" and _cmp(num, op, float(value))
        if isinstance(value, int | float):
            return event.data["kind"] in ("thumb", "number") and _cmp(num, op, float(value))
        return _text_match(label, op, value)
    category, found = json_of(event, target)
    if value is None:
        missing = category in (None, "z")
        return not missing if op is Op.NE else missing
    if isinstance(value, bool):
        return category == "b" and _cmp(1.0 if found else 0.0, op, float(value))
    if isinstance(value, int | float):
        return category == "n" and _cmp(found, op, float(value))
    return category == "s" and _text_match(found, op, value)


def bucket(micros: int, unit: BucketUnit, tz: str | None) -> str:
    local = micros
    if tz is not None:
        moment = EPOCH + timedelta(microseconds=micros)
        offset = moment.astimezone(ZoneInfo(tz)).utcoffset() or timedelta(0)
        local += offset // timedelta(microseconds=1)
    origin = MONDAY if unit is BucketUnit.WEEK else 0
    start = (local - origin) // WIDTH[unit] * WIDTH[unit] + origin
    if tz is None:
        return (EPOCH + timedelta(microseconds=start)).isoformat().replace("+00:00", "Z")
    wall = datetime(1970, 1, 1) + timedelta(microseconds=start)  # noqa: DTZ001
    return wall.replace(tzinfo=ZoneInfo(tz)).isoformat()


def order_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, int | float):
        return (2, value)
    return (3, value)


def nearest_rank(values: list[float], percent: int) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percent * len(ordered) / 100)) - 1]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _numeric(fn: MetricFn, values: list[float]) -> float | None:
    if not values:
        return None
    if fn in PERCENT:
        return nearest_rank(values, PERCENT[fn])
    return {MetricFn.SUM: sum, MetricFn.AVG: _mean, MetricFn.MIN: min, MetricFn.MAX: max}[fn](
        values
    )


def _distribution(weights: dict[Any, float]) -> list[dict[str, Any]]:
    return [{"value": v, "count": weights[v]} for v in sorted(weights, key=order_key)]


def per_event(query: Query, events: list[Event]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for metric in query.metrics:
        fn, target = metric.fn, metric.target
        thumbs = [t for e in events if (t := thumb(e)) is not None]
        up, down = sum(t > 0 for t in thumbs), sum(t < 0 for t in thumbs)
        if fn is MetricFn.COUNT:
            out[metric.label] = len(events)
        elif fn is MetricFn.COUNT_DISTINCT:
            out[metric.label] = len({e.data[target.root] for e in events} - {None})
        elif fn is MetricFn.PCT_TRUE:
            out[metric.label] = _mean([b for e in events if (b := boolean(e, target)) is not None])
        elif fn is MetricFn.DISTRIBUTION:
            counts: dict[Any, float] = defaultdict(float)
            for event in events:
                if (value := scalar(event, target)) is not None:
                    counts[value] += 1
            out[metric.label] = _distribution(counts)
        elif fn in (MetricFn.UP, MetricFn.DOWN, MetricFn.SATISFACTION):
            out[metric.label] = {MetricFn.UP: up, MetricFn.DOWN: down}.get(
                fn, up / (up + down) if up + down else None
            )
        else:
            out[metric.label] = _numeric(
                fn, [n for e in events if (n := number(e, target)) is not None]
            )
    return out


def per_span(query: Query, events: list[Event]) -> dict[str, Any]:
    latest: dict[tuple[str, Any], Event] = {}
    for event in events:
        if event.data["span_id"] is None:
            continue
        user = event.data["user_id"] or ("anonymous", event.data["id"])
        key = (event.data["span_id"], user)
        if key not in latest or (event.micros, event.data["id"]) > (
            latest[key].micros,
            latest[key].data["id"],
        ):
            latest[key] = event
    by_span: dict[str, list[Event]] = defaultdict(list)
    for (span, _), event in latest.items():
        by_span[span].append(event)
    out: dict[str, Any] = {}
    for metric in query.metrics:
        fn, target = metric.fn, metric.target
        if fn is MetricFn.COUNT:
            out[metric.label] = len(by_span)
        elif fn is MetricFn.COUNT_DISTINCT:
            out[metric.label] = len({e.data[target.root] for e in latest.values()} - {None})
        elif fn is MetricFn.DISTRIBUTION:
            weights: dict[Any, float] = defaultdict(float)
            for users in by_span.values():
                values = [v for e in users if (v := scalar(e, target)) is not None]
                for value in values:
                    weights[value] += 1 / len(values)
            out[metric.label] = _distribution(weights)
        elif fn in (MetricFn.UP, MetricFn.DOWN, MetricFn.SATISFACTION):
            means = [
                m
                for users in by_span.values()
                if (m := _mean([t for e in users if (t := thumb(e)) is not None])) is not None
            ]
            up, down = sum(m > 0 for m in means), sum(m < 0 for m in means)
            out[metric.label] = {MetricFn.UP: up, MetricFn.DOWN: down}.get(
                fn, up / (up + down) if up + down else None
            )
        else:
            reader = boolean if fn is MetricFn.PCT_TRUE else number
            means = [
                m
                for users in by_span.values()
                if (m := _mean([v for e in users if (v := reader(e, target)) is not None]))
                is not None
            ]
            out[metric.label] = _mean(means) if fn is MetricFn.PCT_TRUE else _numeric(fn, means)
    return out


def evaluate(query: Query, events: list[Event], now: datetime) -> list[list[Any]]:
    """The rows a store must answer (before `order by` / `limit`)."""
    since = query.since if isinstance(query.since, datetime | None) else query.since.at(now)
    until = query.until if isinstance(query.until, datetime | None) else query.until.at(now)
    chosen = [
        e for e in events
        if (since is None or e.micros >= _micros(since))
        and (until is None or e.micros < _micros(until))
        and all(matches(e, f) for f in query.filters)
    ]  # fmt: skip
    groups: dict[tuple[Any, ...], list[Event]] = defaultdict(list)
    if not query.group_by:
        groups[()] = []
    for event in chosen:
        if query.per is Per.SPAN and event.data["span_id"] is None:
            continue
        key = tuple(
            bucket(event.micros, g.unit, query.tz) if isinstance(g, Bucket) else scalar(event, g)
            for g in query.group_by
        )
        groups[key].append(event)
    reduce = per_span if query.per is Per.SPAN else per_event
    rows = []
    for key in sorted(groups, key=lambda k: [order_key(v) for v in k]):
        values = reduce(query, groups[key])
        rows.append([*key, *(values[m.label] for m in query.metrics)])
    return rows


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)
