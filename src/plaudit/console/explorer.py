"""The explorer's filters: URL parameters ⇄ query-model filters, and events shaped for the table.

Filters live in the query string (`/feedback?capability=search&value=<3&since=7d`), so a view can
be shared; they become the same `Filter`s as the query bar's `where`, so they mean the same.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

from plaudit.console.pages import EventDetail, EventRow
from plaudit.console.render import pretty, when
from plaudit.core.ids import is_event_id
from plaudit.core.query.fields import parse_field
from plaudit.core.query.model import Filter, Op, QueryError, check_filter
from plaudit.core.query.params import literal
from plaudit.core.query.text import parse_moment
from plaudit.store.schema import to_micros
from plaudit.store.sql_aggregate import Window

# URL parameter → (field, operator); `value` takes its operator from its text (`<3`, `!=up`).
EQUALS: Final = {
    "capability": "capability",
    "name": "name",
    "kind": "kind",
    "source": "source",
    "user": "user_id",
    "tag": "tags",
    "conversation": "conversation_id",
}
PARAMS: Final = (*EQUALS, "value", "text", "since", "until")
# Longest first, so `<=` is not read as `<` followed by `=`.
_OPERATORS: Final = ("<=", ">=", "!=", "<", ">", "=")
PAGE_SIZE: Final = 50
_INT64: Final = 2**63


@dataclass(frozen=True, slots=True)
class Selection:
    """What the explorer's URL asks for."""

    filters: list[Filter]
    window: Window
    after: tuple[int, str] | None


def _split_operator(text: str) -> tuple[str, str]:
    """(operator, operand) of a value field such as `<= 3`; `=` when it names none.

    Plain string work rather than a pattern: a lazy pattern with trailing-space handling
    backtracked quadratically on long runs of spaces (40,000 took seconds on the event loop).
    """
    text = text.strip()
    for op in _OPERATORS:
        if text.startswith(op):
            return op, text[len(op) :].strip()
    return "=", text


def _value_filter(text: str) -> Filter:
    op_text, raw = _split_operator(text)
    return Filter(parse_field("value"), Op(op_text), literal(raw))


def _moment(text: str, now: datetime) -> int:
    moment = parse_moment(text)
    return to_micros(moment if isinstance(moment, datetime) else moment.at(now))


def _cursor(text: str | None) -> tuple[int, str] | None:
    """The position an `after` parameter names; QueryError if it is not one a page gave out.

    Checked here, not by the database: a time past 64 bits made the read fail with a 500.
    """
    if not text:
        return None
    at, _, last = text.partition(".")
    digits = at.removeprefix("-")
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 19 and is_event_id(last)):
        raise QueryError("`after` is not a position this list gave out; start from the first page")
    if not -_INT64 <= int(at) < _INT64:
        raise QueryError("`after` is not a position this list gave out; start from the first page")
    return int(at), last


def selection(params: dict[str, str], now: datetime | None = None) -> Selection:
    """The filters of the URL; QueryError says which one is wrong."""
    now = now or datetime.now(UTC)
    found = [Filter(parse_field(EQUALS[p]), Op.EQ, params[p]) for p in EQUALS if p in params]
    if "value" in params:
        found.append(_value_filter(params["value"]))
    if "text" in params:
        found.append(Filter(parse_field("comment"), Op.CONTAINS, params["text"]))
    for item in found:
        if problem := check_filter(item):
            raise QueryError(f"{item.field.name}: {problem}")
    window = Window(
        _moment(params["since"], now) if "since" in params else None,
        _moment(params["until"], now) if "until" in params else None,
    )
    return Selection(found, window, _cursor(params.get("after")))


def url(params: dict[str, str], **changes: str | None) -> str:
    """The explorer URL of `params` with `changes` (None removes a parameter)."""
    merged = {**params, **changes}
    return "/feedback?" + urlencode({k: v for k, v in merged.items() if v})


def show_value(kind: str, value: Any) -> tuple[str, str]:
    """(short text, accessible label) of an event's value for the table."""
    if kind == "thumb":
        up = value == 1
        # Arrows rather than emoji: servers and CI browsers often lack an emoji font.
        return ("▲ up" if up else "▼ down", "thumbs up" if up else "thumbs down")
    if kind == "signal":
        return ("·", "signal")
    if kind in ("object", "correction"):
        return ("{…}" if kind == "object" else "✎ correction", kind)
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return (_clip(text, 40), text)


def _clip(text: str | None, size: int) -> str:
    if not text:
        return ""
    return text if len(text) <= size else text[: size - 1] + "…"


def event_row(row: Any) -> EventRow:
    """A stored row as a line of the table."""
    shown, label = show_value(row["kind"], row["value"])
    return EventRow(
        id=row["id"],
        time=when(row["timestamp"]),
        capability=row["capability"] or "",
        name=row["name"],
        kind=row["kind"],
        value=shown,
        value_label=label,
        user_id=row["user_id"] or "",
        source=row["source"],
        comment=_clip(row["comment"], 90),
        trace_id=row["trace_id"],
        span_id=row["span_id"],
    )


def next_cursor(rows: list[Any]) -> str | None:
    """The `after` parameter of the page following `rows` (None when this one is not full)."""
    if len(rows) < PAGE_SIZE:
        return None
    last = rows[-1]
    return f"{to_micros(last['timestamp'])}.{last['id']}"


_SHOWN: Final = (
    "name", "kind", "capability", "step", "source", "user_id", "timestamp", "received_at",
    "trace_id", "span_id", "conversation_id", "link_status", "signal_type", "revision",
)  # fmt: skip


def _json_or_none(value: Any) -> str | None:
    return None if value in (None, {}, []) else pretty(value)


def detail(event: dict[str, Any]) -> EventDetail:
    """The API's JSON of one event (with `history`) as the detail panel shows it."""
    fields = [(k, str(event[k])) for k in _SHOWN if event.get(k) not in (None, "")]
    if event.get("implicit"):
        fields.append(("implicit", "true"))
    correction = event["value"] if event["kind"] == "correction" else None
    value = None if event["kind"] in ("correction", "signal") else event["value"]
    return EventDetail(
        id=event["id"],
        fields=fields,
        comment=event.get("comment"),
        correction=_json_or_none(correction) if not isinstance(correction, str) else correction,
        expected=_json_or_none(event.get("expected")),
        value=None if value is None else pretty(value),
        metadata=_json_or_none(event.get("metadata")),
        scores=_json_or_none(event.get("scores")),
        tags=list(event.get("tags") or []),
        history=[
            (h["recorded_at"], h["operation"], pretty(h["content"].get("value")))
            for h in event.get("history", [])
        ],
        trace_id=event.get("trace_id"),
        span_id=event.get("span_id"),
    )
