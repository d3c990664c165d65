"""Compile a `core.query.Query` to SQLAlchemy Core for SQLite and PostgreSQL.

Every query reads one subquery, `rows`: one row per matching event (after the time range and the
filters), holding each group's key columns and each metric's input (a number, a 1/0 boolean, a
thumb, a text). Aggregates, percentiles, distributions and the per-span reduction are all built
over `rows`, so a field means the same thing in every part of a query.

Names and JSON path segments were validated by `core.query.fields`; here they are still bound as
parameters (SQLite `$."a"[0]` path strings, PostgreSQL `text[]` paths), never spliced into SQL.
"""

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Float,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    text,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnElement, Label, UnaryExpression

from plaudit.core.query.fields import Field, FieldKind
from plaudit.core.query.model import (
    BUCKET_MICROS,
    ORDERING,
    WEEK_ORIGIN_MICROS,
    Bucket,
    BucketUnit,
    Filter,
    Group,
    Op,
    Scalar,
)
from plaudit.errors import PlauditError
from plaudit.store.schema import PENDING, feedback, spans

Expr = ColumnElement[Any]
Offsets = tuple[int, tuple[tuple[int, int], ...]]
"""A time zone over a span of time: the first UTC offset, then (from, offset) changes (micros)."""

event_micros: Final[ColumnElement[int]] = type_coerce(feedback.c.timestamp, BigInteger)
thumb_value: Final = case((feedback.c.kind == "thumb", feedback.c.value_num))


def unindexed(column: Expr, dialect: str) -> Expr:
    """`column` as SQLite reads no index for (`+column`); itself on PostgreSQL.

    On a database with statistics (after `ANALYZE`), SQLite took `trace_id IS NOT NULL` as a
    range of the `(project, trace_id)` index, and a GROUP BY or DISTINCT on `trace_id` as a
    reason to read in that index's order: it walked a whole project through it, row by row in
    trace order, where a time or `received_at` bound would have read a few rows.
    PostgreSQL, which weighs such plans by its statistics, gets the plain column.
    """
    if dialect != "sqlite":
        return column
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


def on_a_trace(dialect: str) -> Expr:
    """Events about some trace (`trace_id IS NOT NULL`), a filter no index is read for."""
    return unindexed(feedback.c.trace_id, dialect).is_not(None)


class QueryTimeout(PlauditError):
    """A query ran past its time limit."""

    status, slug, title = 422, "query-timeout", "Query took too long"


@contextmanager
def time_limit(connection: Connection, seconds: float) -> Iterator[None]:
    """Abort the statements run inside after `seconds`, raising QueryTimeout.

    SQLite gets a progress handler that interrupts the statement; PostgreSQL a transaction-local
    `statement_timeout` (the connection goes back to the pool rolled back, which resets it).
    """
    message = (
        f"the query ran longer than {seconds:g} s and was stopped; "
        "narrow it with since/until or filters, or group by fewer fields"
    )
    if connection.dialect.name == "sqlite":
        raw: sqlite3.Connection = connection.connection.driver_connection  # type: ignore[assignment]
        deadline = time.monotonic() + seconds
        raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 20_000)
        try:
            yield
        except OperationalError as error:
            if "interrupted" in str(error):
                raise QueryTimeout(message) from None
            raise
        finally:
            raw.set_progress_handler(None, 0)
        return
    connection.execute(
        select(func.set_config("statement_timeout", str(max(1, int(seconds * 1000))), True))
    )
    try:
        yield
    except OperationalError as error:
        if "statement timeout" in str(error):
            raise QueryTimeout(message) from None
        raise


def normalise_number(value: Any) -> int | float | None:
    """A stored number as the API shows it: integral values within 2**53 as ints."""
    if value is None:
        return None
    number = float(value)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


_SQLITE_CATEGORIES: Final = {
    "text": "s", "integer": "n", "real": "n", "true": "b", "false": "b", "null": "z",
    "object": "o", "array": "o",
}  # fmt: skip
_PG_CATEGORIES: Final = {
    "string": "s", "number": "n", "boolean": "b", "null": "z", "object": "o", "array": "o",
}  # fmt: skip


@dataclass(slots=True)
class _Json:
    """A path into a JSON document, as the dialect reads it.

    Categories are simple `CASE <type> WHEN …` expressions, so the document is parsed for its
    type once per row, not once per branch.
    """

    kind: Expr  # the dialect's JSON type name at the path (NULL: missing)
    names: dict[str, str]  # dialect type name → category
    text: Expr  # the scalar as SQL text (PostgreSQL) or native value (SQLite)
    element: Expr | None  # PostgreSQL: the jsonb scalar, for grouping by JSON equality

    @property
    def category(self) -> Expr:
        """'s' string, 'n' number, 'b' bool, 'z' null, 'o' object/array; NULL when missing."""
        return case(self.names, value=self.kind)

    @property
    def scalar_category(self) -> Expr:
        """The category of strings, numbers and booleans only (NULL otherwise)."""
        return case({k: v for k, v in self.names.items() if v in "snb"}, value=self.kind)


@dataclass(slots=True)
class GroupSql:
    """How one group (or distribution value) is selected, grouped by, and read back."""

    inner: list[Label[Any]]  # labelled expressions of `rows`
    keys: list[str]  # labels of `rows` to group or partition by
    aggregated: Callable[[Any], list[Expr]]  # output columns in a GROUP BY over `rows`
    plain: Callable[[Any], list[Expr]]  # output columns in a non-grouped select over `rows`
    decode: Callable[[Sequence[Any]], Any]
    width: int = 1  # output columns


@dataclass
class Compiler:
    """Turns fields, filters and groups into SQL for one dialect and one project."""

    dialect: str
    offsets: Offsets | None = None
    uses_spans: bool = False
    # Plain fields and time buckets read these: the events, or a rollup with the same field
    # columns and a `moment` of its own (see store.rollup).
    table: Table = feedback
    moment: Expr = event_micros
    project: str | None = None
    """The project read: when known, `span_id = …` finds its events through the span."""
    _labels: dict[str, int] = field(default_factory=dict)

    @property
    def postgres(self) -> bool:
        return self.dialect == "postgresql"

    def source(self) -> Any:
        """The rows the compiled fields read: the events, outer-joined with their spans once a
        field read a span (so call it after compiling the conditions)."""
        if not self.uses_spans:
            return feedback
        return feedback.outerjoin(
            spans,
            and_(
                spans.c.project == feedback.c.project,
                spans.c.trace_id == feedback.c.trace_id,
                spans.c.span_id == feedback.c.span_id,
            ),
        )

    def label(self, stem: str) -> str:
        count = self._labels.get(stem, 0)
        self._labels[stem] = count + 1
        return f"{stem}{count}"

    # -- JSON paths -----------------------------------------------------------------------------

    def document(self, target: Field) -> Expr:
        if target.root == "span":
            self.uses_spans = True
            return spans.c.attributes
        column: Expr = feedback.c[target.root]
        return column

    def json(self, target: Field) -> _Json:
        document = self.document(target)
        if self.postgres:
            if any(segment.isdigit() for segment in target.path):
                element = _pg_steps(document, target.path)
                whole = bindparam(None, [], type_=ARRAY(Text))
                text = element.op("#>>", return_type=Text)(whole)
            else:
                path = bindparam(None, list(target.path), type_=ARRAY(Text))
                element = document.op("#>", return_type=JSONB)(path)
                text = document.op("#>>", return_type=Text)(path)
            kind = func.jsonb_typeof(element)
            scalar = case((kind.in_(["string", "number", "boolean"]), element), else_=None)
            return _Json(kind, _PG_CATEGORIES, text, type_coerce(scalar, JSONB))
        path_text = "$" + "".join(f"[{s}]" if s.isdigit() else f'."{s}"' for s in target.path)
        path_param = bindparam(None, path_text, type_=Text)
        kind = func.json_type(document, path_param)
        return _Json(kind, _SQLITE_CATEGORIES, func.json_extract(document, path_param), None)

    def number(self, target: Field) -> Expr:
        """The field as a float where it holds a number (bools count 1/0 for `value`)."""
        if target.kind is FieldKind.VALUE:
            return type_coerce(feedback.c.value_num, Float)
        node = self.json(target)
        return case((node.category == "n", cast(node.text, Float)))

    def boolean(self, target: Field) -> Expr:
        """1.0 / 0.0 where the field holds a boolean."""
        if target.kind is FieldKind.VALUE:
            return case((feedback.c.kind == "bool", feedback.c.value_num))
        if target.kind is FieldKind.BOOL:
            return case((feedback.c.implicit, 1.0), else_=0.0)
        node = self.json(target)
        truth = node.text == ("true" if self.postgres else 1)
        return case((node.category == "b", case((truth, 1.0), else_=0.0)))

    # -- filters --------------------------------------------------------------------------------

    def condition(self, item: Filter) -> Expr:
        if item.op is Op.IN:
            assert isinstance(item.value, tuple)
            return or_(false(), *(self.compare(item.field, Op.EQ, v) for v in item.value))
        assert not isinstance(item.value, tuple)
        return self.compare(item.field, item.op, item.value)

    def compare(self, target: Field, op: Op, value: Scalar) -> Expr:
        kind = target.kind
        if kind is FieldKind.TAGS:
            return not_(self.has_tag(value)) if op is Op.NE else self.has_tag(value)
        if kind is FieldKind.BOOL:
            return apply_op(self.table.c.implicit, op, value)
        if kind is FieldKind.TEXT:
            condition = self.compare_text(self.table.c[target.root], op, value)
            if target.root == "span_id" and op is Op.EQ and isinstance(value, str):
                return and_(condition, *self.about_span(value))
            return condition
        if kind is FieldKind.VALUE:
            return self.compare_value(op, value)
        node = self.json(target)
        if value is None:
            missing = or_(node.category.is_(None), node.category == "z")
            return not_(missing) if op is Op.NE else missing
        if isinstance(value, bool):
            return and_(node.category == "b", apply_op(self.boolean(target), op, float(value)))
        if isinstance(value, int | float):
            return and_(node.category == "n", apply_op(self.number(target), op, float(value)))
        return and_(node.category == "s", self.compare_text(node.text, op, value))

    def compare_text(self, column: Expr, op: Op, value: Scalar) -> Expr:
        if value is None:
            return column.is_not(None) if op is Op.NE else column.is_(None)
        if op is Op.CONTAINS:
            return self.contains(column, str(value))
        if self.postgres and op in ORDERING:
            # Byte order, as SQLite compares; only for ordering, so `=` can still use an index.
            column = column.collate("C")
        return apply_op(column, op, value)

    def compare_value(self, op: Op, value: Scalar) -> Expr:
        num, label = feedback.c.value_num, feedback.c.value_text
        if value is None:
            missing = and_(num.is_(None), label.is_(None))
            return not_(missing) if op is Op.NE else missing
        if isinstance(value, bool):
            return and_(feedback.c.kind == "bool", apply_op(num, op, float(value)))
        if isinstance(value, int | float):
            numeric = feedback.c.kind.in_(["thumb", "number"])
            return and_(numeric, apply_op(num, op, float(value)))
        return self.compare_text(label, op, value)

    def about_span(self, span_id: str) -> list[Expr]:
        """What leads `span_id = …` to its events by index: no index holds the span id of linked
        events (migration 0014), but their trace or response id is one of the span's.

        An event with a span id is pending (`ix_feedback_pending`), or was linked to a stored
        span with that id: named with its trace, or named alone (the trace was filled in), or
        found by its response id (the span id was filled in). So the events with this span id
        are among those of the span's traces, of its response id, and the pending ones.
        """
        if self.project is None or self.table is not feedback:
            return []
        events = feedback.alias("by_span")
        span = (spans.c.project == self.project, spans.c.span_id == span_id)
        of_project = events.c.project == self.project
        candidates = union_all(
            # The index's own condition as text: a bound value would not imply it.
            select(events.c.id).where(of_project, events.c.span_id == span_id, text(PENDING)),
            select(events.c.id).where(
                of_project,
                events.c.trace_id.in_(select(spans.c.trace_id).where(*span).correlate(None)),
            ),
            select(events.c.id).where(
                of_project,
                events.c.response_id.in_(select(spans.c.response_id).where(*span).correlate(None)),
            ),
        )
        return [feedback.c.id.in_(candidates)]

    def contains(self, column: Expr, needle: str) -> Expr:
        """Case-insensitive for ASCII letters, the same on both stores."""
        if self.postgres:
            upper, lower = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
            folded = func.translate(column, upper, lower)
            return func.strpos(folded, needle.translate(str.maketrans(upper, lower))) > 0
        return func.instr(func.lower(column), func.lower(literal(needle, Text))) > 0

    def has_tag(self, tag: Scalar) -> Expr:
        if self.postgres:
            return feedback.c.tags.op("@>", return_type=Boolean)(func.jsonb_build_array(tag))
        each = func.json_each(feedback.c.tags).table_valued("value")
        return exists(select(literal(1)).select_from(each).where(each.c.value == tag))

    # -- groups ---------------------------------------------------------------------------------

    def bucket(self, unit: BucketUnit) -> Expr:
        moment = self.moment
        if self.offsets is not None:
            first, changes = self.offsets
            shift = (
                case(*((self.moment < at, offset) for at, offset in _windows(first, changes)),
                     else_=changes[-1][1])
                if changes
                else literal(first, BigInteger)
            )  # fmt: skip
            moment = moment + shift
        size = BUCKET_MICROS[unit]
        origin = WEEK_ORIGIN_MICROS if unit is BucketUnit.WEEK else 0
        since_origin = moment - origin
        # `%` keeps the dividend's sign in both stores: this floors, also before 1970.
        return since_origin - ((since_origin % size) + size) % size + origin

    def group(self, group: Group, stem: str = "g") -> GroupSql:
        if isinstance(group, Bucket):
            name = self.label(stem)
            return _single(self.bucket(group.unit).label(name), name, lambda v: v[0])
        kind = group.kind
        if kind in (FieldKind.TEXT, FieldKind.BOOL):
            name = self.label(stem)
            return _single(self.table.c[group.root].label(name), name, lambda v: v[0])
        if kind is FieldKind.VALUE:
            text, num = self.label(stem), self.label(stem)
            inner = [feedback.c.value_text.label(text), feedback.c.value_num.label(num)]
            return GroupSql(
                inner, [text, num], _columns([text, num]), _columns([text, num]),
                lambda v: v[0] if v[0] is not None else normalise_number(v[1]), 2,
            )  # fmt: skip
        return self.json_group(group, stem)

    def json_group(self, target: Field, stem: str) -> GroupSql:
        node = self.json(target)
        category, value = self.label(stem), self.label(stem)
        scalar = node.scalar_category
        if not self.postgres:
            # Objects and arrays read as their JSON text: null it, so they group with `missing`.
            text = case((scalar.is_not(None), node.text))
            inner = [scalar.label(category), text.label(value)]
            names = [category, value]
            return GroupSql(inner, names, _columns(names), _columns(names), _decode_scalar, 2)
        element = self.label(stem)
        assert node.element is not None
        inner = [scalar.label(category), node.text.label(value), node.element.label(element)]
        return GroupSql(
            inner,
            [category, element],
            lambda c: [c[category], func.min(c[value])],
            _columns([category, value]),
            _decode_scalar,
            2,
        )


def _pg_steps(document: Expr, path: tuple[str, ...]) -> Expr:
    """The element at `path`, where a digit segment indexes an array only, as on SQLite.

    (PostgreSQL's `#>` would also read `"0"` as an object's key; SQLite's `$[0]` would not.)
    """
    element = document
    for segment in path:
        if segment.isdigit():
            is_array = func.jsonb_typeof(element) == "array"
            step = element.op("->", return_type=JSONB)(bindparam(None, int(segment)))
            element = type_coerce(case((is_array, step)), JSONB)
        else:
            element = element.op("->", return_type=JSONB)(bindparam(None, segment, type_=Text))
    return element


def _windows(first: int, changes: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """(until, offset) pairs: the offset in force before each change."""
    offsets = [first, *(offset for _, offset in changes)]
    return [(at, offsets[index]) for index, (at, _) in enumerate(changes)]


def apply_op(column: Expr, op: Op, value: Any) -> Expr:
    """`column op value` for the comparison operators."""
    operations: dict[Op, Callable[[Expr, Any], Expr]] = {
        Op.EQ: lambda c, v: c == v,
        Op.NE: lambda c, v: c != v,
        Op.LT: lambda c, v: c < v,
        Op.LE: lambda c, v: c <= v,
        Op.GT: lambda c, v: c > v,
        Op.GE: lambda c, v: c >= v,
    }
    return operations[op](column, value)


def _columns(names: list[str]) -> Callable[[Any], list[Expr]]:
    return lambda c: [c[name] for name in names]


def _single(inner: Label[Any], name: str, decode: Callable[[Sequence[Any]], Any]) -> GroupSql:
    return GroupSql([inner], [name], _columns([name]), _columns([name]), decode)


def _decode_scalar(values: Sequence[Any]) -> Any:
    category, value = values[0], values[1]
    if category == "n":
        return normalise_number(value)
    if category == "b":
        return value in (1, True, "true")
    return value if category == "s" else None
