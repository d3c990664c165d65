"""The structured (JSON) form of a query, as `POST /v1/query` takes it, into the same model.

    {"filters": [{"field": "name", "op": "=", "value": "response-quality"}],
     "group_by": ["capability", "day"], "metrics": ["satisfaction", "count"],
     "per": "event", "since": "7d"}

Filters may also be written as text (`"name = \\"x\\""`), metrics are written as in the text form.
Every error names the JSON pointer of what is wrong.
"""

from typing import Any

import msgspec

from plaudit.core.query.fields import FieldError, parse_field
from plaudit.core.query.model import (
    Bucket,
    BucketUnit,
    Filter,
    Group,
    Metric,
    Moment,
    Op,
    Order,
    Per,
    Query,
    QueryError,
    check_filter,
)
from plaudit.core.query.text import (
    MAX_LIMIT,
    check_tz,
    parse_filters,
    parse_metric,
    parse_moment,
)


class FilterIn(msgspec.Struct, forbid_unknown_fields=True):
    """One filter as JSON."""

    field: str
    op: str
    value: Any = None


class QueryIn(msgspec.Struct, forbid_unknown_fields=True):
    """The structured form's shape (values are checked after decoding)."""

    metrics: list[str]
    filters: list[FilterIn | str] = []
    group_by: list[str] = []
    per: str = "event"
    since: str | None = None
    until: str | None = None
    tz: str | None = None
    order_by: str | None = None
    limit: int | None = None


def _text_error(error: QueryError, pointer: str) -> QueryError:
    where = f" (at position {error.position})" if error.position is not None else ""
    return QueryError(error.message + where, pointer=pointer)


def _filters(raw: list[FilterIn | str]) -> list[Filter]:
    found: list[Filter] = []
    for index, item in enumerate(raw):
        pointer = f"/filters/{index}"
        if isinstance(item, str):
            try:
                found.extend(parse_filters(item))
            except QueryError as error:
                raise _text_error(error, pointer) from None
            continue
        try:
            target = parse_field(item.field)
        except FieldError as error:
            raise QueryError(str(error), pointer=pointer + "/field") from None
        try:
            op = Op(item.op)
        except ValueError:
            ops = ", ".join(o.value for o in Op)
            message = f"unknown operator; use one of {ops}"
            raise QueryError(message, pointer=f"{pointer}/op") from None
        value = tuple(item.value) if isinstance(item.value, list) else item.value
        if not _is_literal(value):
            raise QueryError(
                "a value is a string, number, bool or null", pointer=f"{pointer}/value"
            )
        made = Filter(target, op, value)
        if problem := check_filter(made):
            raise QueryError(problem, pointer=pointer)
        found.append(made)
    return found


def _is_literal(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_is_literal(v) for v in value)
    return value is None or isinstance(value, str | int | float | bool)


def _group(name: str, pointer: str) -> Group:
    if name in BucketUnit.__members__.values():
        return Bucket(BucketUnit(name))
    try:
        return parse_field(name)
    except FieldError as error:
        raise QueryError(str(error), pointer=pointer) from None


def _moment(text: str | None, pointer: str) -> Moment | None:
    if text is None:
        return None
    try:
        return parse_moment(text)
    except QueryError as error:
        raise _text_error(error, pointer) from None


def _order(text: str | None) -> Order | None:
    if text is None:
        return None
    column, _, direction = text.strip().partition(" ")
    if direction.strip().lower() not in ("", "asc", "desc"):
        raise QueryError("order_by is `<column> [asc|desc]`", pointer="/order_by")
    return Order(column, direction.strip().lower() == "desc")


def from_structured(raw: Any) -> Query:
    """The query a decoded JSON object denotes; QueryError with a pointer if it is wrong."""
    try:
        shape = msgspec.convert(raw, QueryIn)
    except msgspec.ValidationError as error:
        raise QueryError(f"the query is not of the documented shape: {error}") from None
    metrics: list[Metric] = []
    for index, text in enumerate(shape.metrics):
        try:
            metrics.append(parse_metric(text))
        except QueryError as error:
            raise _text_error(error, f"/metrics/{index}") from None
    if shape.per not in Per.__members__.values():
        raise QueryError("per is `event` or `span`", pointer="/per")
    if shape.tz is not None and (problem := check_tz(shape.tz)):
        raise QueryError(problem, pointer="/tz")
    if shape.limit is not None and not 1 <= shape.limit <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}", pointer="/limit")
    query = Query(
        metrics=tuple(metrics),
        group_by=tuple(_group(g, f"/group_by/{i}") for i, g in enumerate(shape.group_by)),
        filters=tuple(_filters(shape.filters)),
        per=Per(shape.per),
        since=_moment(shape.since, "/since"),
        until=_moment(shape.until, "/until"),
        tz=shape.tz,
        order=_order(shape.order_by),
        limit=shape.limit,
    )
    query.check()
    return query
