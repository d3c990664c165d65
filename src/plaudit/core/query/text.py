"""The text form of a query, for the CLI and the console's query bar, and back.

    satisfaction, count by capability, day where name = "response-quality" since 7d

The grammar is in docs/query.md. Errors carry the character position where the parser stopped and
say what it expected there, so a front end can point at it.
"""

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from plaudit.core.query.fields import JSON_ROOTS, Field, FieldError, parse_field
from plaudit.core.query.model import (
    Ago,
    Bucket,
    BucketUnit,
    Filter,
    Group,
    Metric,
    MetricFn,
    Moment,
    Op,
    Order,
    Per,
    Query,
    QueryError,
    Scalar,
    check_filter,
    check_metric,
)
from plaudit.core.times import rfc3339

_TOKEN: Final = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<time>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?)
  | (?P<duration>\d+[mhdw](?![A-Za-z0-9_]))
  | (?P<number>-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_.\-]*)
  | (?P<op>!=|<=|>=|==|=|<|>)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)
_UNITS: Final = {"m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
# Durations reach back at most this far: a longer one cannot be a time (it overflowed into a 500).
MAX_DURATION_DAYS: Final = 36_525
CLAUSES: Final = ("by", "where", "since", "until", "per", "tz", "order", "limit")
MAX_LIMIT: Final = 100_000


@dataclass(frozen=True, slots=True)
class Token:
    """One lexeme and where it starts."""

    kind: str
    text: str
    position: int

    @property
    def word(self) -> str:
        """The lower-cased text of a word token ('' for other kinds)."""
        return self.text.lower() if self.kind == "word" else ""

    def describe(self) -> str:
        """The token as an error message shows it."""
        return "the end of the query" if self.kind == "end" else f"`{self.text}`"


def tokenize(text: str) -> list[Token]:
    """The tokens of `text`, ending with an `end` token; QueryError at an unknown character."""
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise QueryError(f"unexpected character {text[position]!r}", position)
        if match.lastgroup != "ws":
            tokens.append(Token(match.lastgroup, match.group(), position))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Parser:
    """Recursive descent over the token list; each method consumes one grammar rule."""

    def __init__(self, text: str, roots: tuple[str, ...] = JSON_ROOTS) -> None:
        self.tokens = tokenize(text)
        self.index = 0
        self.roots = roots

    @property
    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += min(1, len(self.tokens) - 1 - self.index)
        return token

    def fail(self, expected: str, token: Token | None = None) -> QueryError:
        token = token or self.peek
        return QueryError(f"expected {expected}, found {token.describe()}", token.position)

    def finish(self, expected: str) -> None:
        """Refuse anything left after what was parsed (`expected` says what could follow)."""
        if self.peek.kind != "end":
            raise self.fail(expected)

    def accept_word(self, *words: str) -> Token | None:
        if self.peek.word in words:
            return self.take()
        return None

    def accept_punct(self, symbol: str) -> bool:
        if self.peek.kind == "punct" and self.peek.text == symbol:
            self.take()
            return True
        return False

    def expect_punct(self, symbol: str, expected: str) -> None:
        if not self.accept_punct(symbol):
            raise self.fail(expected)

    def field(self) -> Field:
        token = self.peek
        if token.kind != "word" or token.word in CLAUSES:
            raise self.fail("a field name (e.g. capability, metadata.plan)")
        self.take()
        try:
            return parse_field(token.text, self.roots)
        except FieldError as error:
            raise QueryError(str(error), token.position) from None

    def metric(self) -> Metric:
        token = self.peek
        try:
            fn = MetricFn(token.word)
        except ValueError:
            names = ", ".join(m.value for m in MetricFn)
            raise self.fail(f"a metric ({names})") from None
        self.take()
        target = None
        if self.accept_punct("("):
            target = self.field()
            self.expect_punct(")", "`)` after the metric's field")
        if problem := check_metric(fn, target):
            raise QueryError(problem, token.position)
        return Metric(fn, target)

    def group(self) -> Group:
        if self.peek.word in BucketUnit.__members__.values():
            return Bucket(BucketUnit(self.take().word))
        return self.field()

    def literal(self) -> Scalar:
        token = self.take()
        if token.kind == "string":
            return _string(token)
        if token.kind == "number":
            return _number(token)
        if token.word in ("true", "false"):
            return token.word == "true"
        if token.word == "null":
            return None
        raise self.fail('a value: a "string", a number, true, false or null', token)

    def condition(self) -> Filter:
        start = self.peek
        target = self.field()
        op_token = self.take()
        if op_token.word == "contains":
            item = Filter(target, Op.CONTAINS, self.literal())
        elif op_token.word == "in":
            self.expect_punct("(", "`(` to open the list of values")
            values = [self.literal()]
            while self.accept_punct(","):
                values.append(self.literal())
            self.expect_punct(")", "`)` or `,` in the list of values")
            item = Filter(target, Op.IN, tuple(values))
        elif op_token.kind == "op":
            op = Op.EQ if op_token.text == "==" else Op(op_token.text)
            item = Filter(target, op, self.literal())
        else:
            raise self.fail("an operator (=, !=, <, <=, >, >=, in, contains)", op_token)
        if problem := check_filter(item):
            raise QueryError(problem, start.position)
        return item

    def conditions(self) -> list[Filter]:
        found = [self.condition()]
        while self.accept_word("and"):
            found.append(self.condition())
        return found

    def moment(self) -> Moment:
        token = self.take()
        if token.kind == "duration":
            return Ago(_duration(token))
        if token.kind in ("time", "string"):
            text = _string(token) if token.kind == "string" else token.text
            moment = parse_time(text)
            if moment is not None:
                return moment
        raise self.fail("a time: a duration like 7d, 24h, 30m, 2w or a date like 2026-01-31", token)

    def order(self) -> Order:
        if not self.accept_word("by"):
            raise self.fail("`by` after `order`")
        token = self.take()
        if token.kind != "word":
            raise self.fail("a column name", token)
        column = token.text
        if self.accept_punct("("):
            column = f"{token.word}({self.field().name})"
            self.expect_punct(")", "`)`")
        descending = self.accept_word("asc", "desc")
        return Order(column, descending is not None and descending.word == "desc")


def _duration(token: Token) -> timedelta:
    """A duration token (`7d`) as a timedelta; QueryError past `MAX_DURATION_DAYS`."""
    digits, unit = token.text[:-1], _UNITS[token.text[-1]]
    # The digit count is checked first: int() of thousands of digits is itself refused or slow.
    if len(digits) > 12 or int(digits) * unit > MAX_DURATION_DAYS * 86_400:
        raise QueryError(
            f"a duration is at most {MAX_DURATION_DAYS}d (100 years); use a date for older times",
            token.position,
        )
    return timedelta(seconds=int(digits) * unit)


def _string(token: Token) -> str:
    if token.text.startswith("'"):
        body = token.text[1:-1]
        return re.sub(r"\\(.)", r"\1", body)
    try:
        text: str = msgspec.json.decode(token.text)
        return text
    except msgspec.DecodeError:
        raise QueryError("this string has a malformed escape", token.position) from None


def _number(token: Token) -> int | float:
    if re.fullmatch(r"-?\d+", token.text):
        return int(token.text)
    number = float(token.text)
    if not math.isfinite(number):
        raise QueryError("numbers must be finite", token.position)
    return number


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 time or a date (midnight UTC); naive times are UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_tz(name: str) -> str | None:
    """Why `name` is not a time zone, or None."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r}; use an IANA name such as Europe/Paris"
    return None


@dataclass(slots=True)
class _Clauses:
    """What the clauses after the metrics said, filled in as they are read."""

    group_by: tuple[Group, ...] = ()
    filters: tuple[Filter, ...] = ()
    per: Per = Per.EVENT
    since: Moment | None = None
    until: Moment | None = None
    tz: str | None = None
    order: Order | None = None
    limit: int | None = None
    order_at: int = 0


def parse_query(text: str) -> Query:
    """The query the text form denotes; QueryError (with a position) if it is malformed."""
    parser = _Parser(text)
    if parser.peek.kind == "end":
        raise parser.fail("a metric, e.g. `count`")
    metrics = [parser.metric()]
    while parser.accept_punct(","):
        metrics.append(parser.metric())
    clauses = _Clauses()
    seen: set[str] = set()
    while parser.peek.kind != "end":
        token = parser.take()
        if token.word not in CLAUSES:
            raise parser.fail(f"`,` or a clause ({', '.join(CLAUSES)})", token)
        if token.word in seen:
            raise QueryError(f"`{token.word}` appears twice", token.position)
        seen.add(token.word)
        _clause(parser, token, clauses)
    query = Query(
        metrics=tuple(metrics),
        group_by=clauses.group_by,
        filters=clauses.filters,
        per=clauses.per,
        since=clauses.since,
        until=clauses.until,
        tz=clauses.tz,
        order=clauses.order,
        limit=clauses.limit,
    )
    try:
        query.check()
    except QueryError as error:
        at = clauses.order_at if "order by" in error.message else 0
        raise QueryError(error.message, at) from None
    return query


def _clause(parser: _Parser, token: Token, clauses: _Clauses) -> None:
    word = token.word
    if word == "by":
        groups = [parser.group()]
        while parser.accept_punct(","):
            groups.append(parser.group())
        clauses.group_by = tuple(groups)
    elif word == "where":
        clauses.filters = tuple(parser.conditions())
    elif word == "since":
        clauses.since = parser.moment()
    elif word == "until":
        clauses.until = parser.moment()
    elif word == "per":
        unit = parser.accept_word("span", "event")
        if unit is None:
            raise parser.fail("`span` or `event` after `per`")
        clauses.per = Per(unit.word)
    elif word == "tz":
        zone = parser.take()
        name = _string(zone) if zone.kind == "string" else zone.text
        if zone.kind not in ("string", "word") or check_tz(name):
            raise QueryError(
                'expected a time zone in quotes, e.g. tz "Europe/Paris"', zone.position
            )
        clauses.tz = name
    elif word == "order":
        clauses.order_at = token.position
        clauses.order = parser.order()
    else:
        clauses.limit = _limit(parser)


def _limit(parser: _Parser) -> int:
    count = parser.take()
    if count.kind != "number" or not re.fullmatch(r"\d+", count.text):
        raise parser.fail("a whole number after `limit`", count)
    if not 1 <= int(count.text) <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}", count.position)
    return int(count.text)


def parse_filters(text: str, roots: tuple[str, ...] = JSON_ROOTS) -> list[Filter]:
    """Conditions joined by `and` (the `where` part alone); empty text means none."""
    parser = _Parser(text, roots)
    if parser.peek.kind == "end":
        return []
    found = parser.conditions()
    parser.finish("`and` or the end of the filter")
    return found


def parse_metric(text: str) -> Metric:
    """One metric as the text form writes it: `count`, `p95(scores.relevance)`."""
    parser = _Parser(text)
    metric = parser.metric()
    parser.finish("the end of the metric")
    return metric


def parse_moment(text: str) -> Moment:
    """A duration back from now (`7d`) or an RFC 3339 time."""
    parser = _Parser(text)
    moment = parser.moment()
    parser.finish("the end of the time")
    return moment


def render_literal(value: Scalar | tuple[Scalar, ...]) -> str:
    """A literal as the text form writes it."""
    if isinstance(value, tuple):
        return "(" + ", ".join(render_literal(v) for v in value) + ")"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return msgspec.json.encode(value).decode()
    return repr(value)


def render_moment(moment: Moment) -> str:
    """A time as the text form writes it."""
    if isinstance(moment, datetime):
        return rfc3339(moment)
    seconds = int(moment.delta.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    raise QueryError("relative times are whole minutes")


def to_text(query: Query) -> str:
    """The text form of a query; `parse_query(to_text(q)) == q`."""
    text = ", ".join(m.label for m in query.metrics)
    if query.group_by:
        text += " by " + ", ".join(g.name for g in query.group_by)
    if query.filters:
        text += " where " + " and ".join(
            f"{f.field.name} {f.op.value} {render_literal(f.value)}" for f in query.filters
        )
    for word, moment in (("since", query.since), ("until", query.until)):
        if moment is not None:
            text += f" {word} {render_moment(moment)}"
    if query.per is not Per.EVENT:
        text += f" per {query.per.value}"
    if query.tz:
        text += f" tz {render_literal(query.tz)}"
    if query.order:
        text += f" order by {query.order.column} {'desc' if query.order.descending else 'asc'}"
    if query.limit:
        text += f" limit {query.limit}"
    return text
