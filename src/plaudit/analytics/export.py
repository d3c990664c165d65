"""Stream feedback out as NDJSON, CSV, or OpenTelemetry `gen_ai.evaluation.result` events.

CSV text cells that a spreadsheet would run as a formula are neutralised (`neutralised`).

Events are read in keyset pages of `PAGE` rows, oldest first, and each page is encoded and
handed on before the next is read: memory stays constant whatever the number of events.
"""

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, cast

import msgspec
from sqlalchemy import Connection

from plaudit.core.query.model import Filter
from plaudit.core.query.text import parse_time
from plaudit.store.event_search import Position, events_page
from plaudit.store.feedback import RawEvent, raw_rows_to_events, row_to_event
from plaudit.store.schema import to_micros
from plaudit.store.sql_aggregate import Window

PAGE: Final = 2_000

CSV_COLUMNS: Final = (
    "id", "timestamp", "received_at", "name", "kind", "value", "comment", "trace_id", "span_id",
    "conversation_id", "capability", "step", "user_id", "source", "signal_type", "implicit",
    "scores", "metadata", "tags", "expected", "link_status", "revision", "project",
)  # fmt: skip

_encode = msgspec.json.Encoder()


class ExportFormat(StrEnum):
    """What an export is written as."""

    NDJSON = "ndjson"
    CSV = "csv"
    OTEL = "otel"


MEDIA_TYPES: Final = {
    ExportFormat.NDJSON: "application/x-ndjson",
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.OTEL: "application/x-ndjson",
}


@dataclass(frozen=True, slots=True)
class Page:
    """Events as the API's JSON dicts (`RawEvent`s when read raw, for NDJSON), and the keyset
    position after the last of them."""

    events: list[dict[str, Any]] | list[RawEvent]
    end: Position | None


Reader = Callable[[Position | None], Page]
"""Reads the page after a position (None: the first page)."""


def page_reader(
    connection_factory: Callable[[], Any],
    project: str,
    filters: Sequence[Filter],
    window: Window,
    size: int = PAGE,
    *,
    raw: bool = False,
) -> Reader:
    """A reader that opens a connection per page, so no transaction is held across the stream.

    With `raw`, events are `RawEvent`s, which copy stored JSON text instead of decoding it:
    enough for NDJSON, at a fraction of the cost; CSV and OpenTelemetry need the dicts.
    """

    def read(after: Position | None) -> Page:
        with connection_factory() as connection:
            return read_page(connection, project, filters, window, after, size, raw=raw)

    return read


def read_page(
    connection: Connection,
    project: str,
    filters: Sequence[Filter],
    window: Window,
    after: Position | None,
    size: int = PAGE,
    *,
    raw: bool = False,
) -> Page:
    """One page of events, oldest first, after `after`."""
    rows = events_page(connection, project, filters, window, after, size, raw=raw)
    if not raw:
        end = (to_micros(rows[-1]["timestamp"]), rows[-1]["id"]) if len(rows) == size else None
        return Page([row_to_event(row) for row in rows], end)
    end = (rows[-1].timestamp, rows[-1].id) if len(rows) == size else None
    return Page(raw_rows_to_events(rows, connection.dialect.name != "postgresql"), end)


class Encoder:
    """Turns pages of events into bytes of one format; `header()` comes first."""

    def __init__(self, format: ExportFormat) -> None:
        self.format = format

    def header(self) -> bytes:
        if self.format is ExportFormat.CSV:
            return _csv_line(list(CSV_COLUMNS))
        return b""

    def page(self, events: list[dict[str, Any]] | list[RawEvent]) -> bytes:
        if self.format is ExportFormat.NDJSON:
            return _encode.encode_lines(events)
        events = cast(list[dict[str, Any]], events)  # CSV and OpenTelemetry are read decoded
        if self.format is ExportFormat.OTEL:
            return b"".join(_encode.encode(evaluation_event(e)) + b"\n" for e in events)
        return b"".join(_csv_line([_cell(e.get(c)) for c in CSV_COLUMNS]) for e in events)


# Spreadsheets run a cell that starts with one of these as a formula (CSV injection), and tab or
# CR can hide such a start. Text from users that begins with one gets a leading `'`, which
# spreadsheets show as text and do not display. Numbers are encoded by us and stay numbers.
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def neutralised(text: str) -> str:
    """`text` safe to open in a spreadsheet: a formula-like start is prefixed with `'`."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralised(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return _encode.encode(value).decode()


def _csv_line(cells: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue().encode()


def evaluation_event(event: dict[str, Any]) -> dict[str, Any]:
    """A feedback event as an OpenTelemetry `gen_ai.evaluation.result` event."""
    attributes: dict[str, Any] = {"gen_ai.evaluation.name": event["name"]}
    value, kind = event["value"], event["kind"]
    if kind in ("number", "thumb") and isinstance(value, int | float):
        attributes["gen_ai.evaluation.score.value"] = float(value)
    if kind == "thumb":
        attributes["gen_ai.evaluation.score.label"] = "up" if value > 0 else "down"
    elif kind == "bool":
        attributes["gen_ai.evaluation.score.value"] = 1.0 if value else 0.0
        attributes["gen_ai.evaluation.score.label"] = "true" if value else "false"
    elif kind in ("enum", "text") and isinstance(value, str):
        attributes["gen_ai.evaluation.score.label"] = value
    if event.get("comment"):
        attributes["gen_ai.evaluation.explanation"] = event["comment"]
    extra = {
        "plaudit.feedback.id": event["id"],
        "plaudit.feedback.kind": kind,
        "plaudit.feedback.source": event["source"],
        "plaudit.capability": event.get("capability"),
        "plaudit.step": event.get("step"),
        "gen_ai.conversation.id": event.get("conversation_id"),
        "enduser.id": event.get("user_id"),
    }
    attributes.update({k: v for k, v in extra.items() if v is not None})
    moment = parse_time(event["timestamp"])
    nanos = to_micros(moment) * 1000 if moment is not None else 0
    return {
        "event_name": "gen_ai.evaluation.result",
        "time_unix_nano": str(nanos),
        "trace_id": event.get("trace_id") or "",
        "span_id": event.get("span_id") or "",
        "attributes": attributes,
    }
