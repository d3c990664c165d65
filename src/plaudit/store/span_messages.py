"""A span's messages that came as GenAI events in OTLP logs: stored once, read with the trace."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from plaudit.core.genai import (
    INPUT_MESSAGES,
    OUTPUT_MESSAGES,
    LoggedMessage,
    Message,
    span_messages,
)
from plaudit.store.bulk import insert_rows
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


def add_logged_messages(
    connection: Connection, project: str, trace_id: str, spans: list[dict[str, Any]]
) -> None:
    """Give each span of a trace that has no messages of its own those its logs carried."""
    logged: dict[str, tuple[list[Message], list[Message]]] = {}
    query = (
        select(table.c.span_id, table.c.side, table.c.message)
        .where(table.c.project == project, table.c.trace_id == trace_id)
        .order_by(table.c.time_unix_nano, table.c.record, table.c.position)
    )
    for span_id, side, message in connection.execute(query):
        inputs, outputs = logged.setdefault(span_id, ([], []))
        (inputs if side == "input" else outputs).append(message)
    for span in _every(spans):
        found = logged.get(span["span_id"])
        if found is None or span_messages(span["attributes"]).sources:
            continue  # the span's own attributes win
        span["attributes"] = {
            **span["attributes"],
            INPUT_MESSAGES: found[0],
            OUTPUT_MESSAGES: found[1],
        }


def _every(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [found for span in spans for found in (span, *_every(span["children"]))]
