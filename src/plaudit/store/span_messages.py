"""A span's messages that came as GenAI events in OTLP logs: stored once, read with the trace."""

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from sqlalchemy import Connection

from plaudit.core.genai import (
    INPUT_MESSAGES,
    OUTPUT_MESSAGES,
    LoggedMessage,
    Message,
    span_messages,
)
from plaudit.store.bulk import insert_rows, rows_in
from plaudit.store.schema import span_messages as table
from plaudit.store.writer import WriteOp


class StoreSpanMessages(WriteOp[int]):
    """Store the messages of one project's log export; a record sent again is stored once."""

    def __init__(self, project: str, messages: Sequence[LoggedMessage]) -> None:
        self.project = project
        self.messages = messages

    def weight(self) -> int:
        return max(1, len(self.messages))

    def apply(self, connection: Connection) -> int:
        rows = {
            (m.span_id, m.record, m.position): {
                "project": self.project, "span_id": m.span_id, "record": m.record,
                "position": m.position, "trace_id": m.trace_id,
                "time_unix_nano": m.time_unix_nano, "side": m.side, "message": m.message,
            }
            for m in self.messages
        }  # fmt: skip
        insert_rows(connection, table, list(rows.values()), conflict=KEY)
        return len(rows)


KEY = ("project", "span_id", "record", "position")


def logged_messages(
    connection: Connection, project: str, key: str, values: Iterable[str]
) -> dict[str, tuple[list[Message], list[Message]]]:
    """Span id → (inputs, outputs) logged for the spans (`key` "span_id") or traces
    (`key` "trace_id") named, each side in the order the records were made."""
    columns = ("span_id", "side", "message", "time_unix_nano", "record", "position")
    rows = sorted(rows_in(connection, table, columns, project, key, values), key=lambda r: r[3:])
    logged: dict[str, tuple[list[Message], list[Message]]] = {}
    for span_id, side, message, *_ in rows:
        inputs, outputs = logged.setdefault(span_id, ([], []))
        (inputs if side == "input" else outputs).append(_decoded(message))
    return logged


def with_logged(
    attributes: dict[str, Any], logged: tuple[list[Message], list[Message]] | None
) -> dict[str, Any]:
    """A span's attributes with its logged messages, unless it carries messages of its own."""
    if logged is None or span_messages(attributes).sources:
        return attributes
    return {**attributes, INPUT_MESSAGES: logged[0], OUTPUT_MESSAGES: logged[1]}


def add_logged_messages(
    connection: Connection, project: str, trace_id: str, spans: list[dict[str, Any]]
) -> None:
    """Give each span of a trace tree the messages its logs carried (see `with_logged`)."""
    logged = logged_messages(connection, project, "trace_id", [trace_id])
    for span in _every(spans):
        span["attributes"] = with_logged(span["attributes"], logged.get(span["span_id"]))


def _decoded(message: Any) -> Message:
    # rows_in reads the driver's value: JSON text on SQLite, already decoded on PostgreSQL
    decoded: Message = msgspec.json.decode(message) if isinstance(message, str) else message
    return decoded


def _every(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [found for span in spans for found in (span, *_every(span["children"]))]
