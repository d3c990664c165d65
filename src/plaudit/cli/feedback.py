"""`plaudit feedback`: send, list and export feedback, straight on the database."""

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import msgspec
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from plaudit.analytics.export import Encoder, ExportFormat, page_reader
from plaudit.cli.db import DatabaseUrl, Json, open_engine
from plaudit.cli.output import emit, fail
from plaudit.cli.query import Project, show_query_error
from plaudit.core.feedback import FeedbackEvent
from plaudit.core.query.model import Filter, Moment, QueryError
from plaudit.core.query.text import parse_filters, parse_moment
from plaudit.core.validation import validate_feedback
from plaudit.store.event_search import Position, count_events, events_page
from plaudit.store.feedback import StoreFeedback, row_to_event
from plaudit.store.projects import pii_mode
from plaudit.store.schema import to_micros
from plaudit.store.sql_aggregate import Window
from plaudit.store.writer import take_write_lock

app = typer.Typer(help="Feedback events: send, list, export.", no_args_is_help=True)

Where = Annotated[
    str, typer.Option("--where", "-w", help="Filters, e.g. 'name = \"rating\" and value < 3'.")
]
Since = Annotated[str | None, typer.Option(help="Start: 7d, 24h or an RFC 3339 time.")]
Until = Annotated[str | None, typer.Option(help="End (exclusive): 7d, 24h or a time.")]


def _filters(where: str) -> list[Filter]:
    try:
        return parse_filters(where)
    except QueryError as error:
        raise show_query_error(where, error) from None


def _window(since: str | None, until: str | None) -> Window:
    now = datetime.now(UTC)

    def micros(text: str | None) -> int | None:
        if text is None:
            return None
        try:
            moment: Moment = parse_moment(text)
        except QueryError as error:
            raise show_query_error(text, error) from None
        return to_micros(moment if isinstance(moment, datetime) else moment.at(now))

    return Window(micros(since), micros(until))


@app.command("list")
def list_(
    project: Project = "default",
    where: Where = "",
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, typer.Option(help="At most this many (0: all).")] = 50,
    database_url: DatabaseUrl = None,
    json: Json = False,
) -> None:
    """List events, newest first; `--json` prints one JSON object per line."""
    filters, window = _filters(where), _window(since, until)
    engine = open_engine(database_url)
    shown = 0
    after: Position | None = None
    try:
        while limit == 0 or shown < limit:
            size = 500 if limit == 0 else min(500, limit - shown)
            with engine.connect() as connection:
                rows = events_page(connection, project, filters, window, after, size, True)
            for row in rows:
                _print_event(row_to_event(row), json)
            shown += len(rows)
            if len(rows) < size:
                break
            after = (to_micros(rows[-1]["timestamp"]), rows[-1]["id"])
    finally:
        engine.dispose()


def _print_event(event: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(msgspec.json.encode(event).decode() + "\n")
        return
    value = "" if event["value"] is None else msgspec.json.encode(event["value"]).decode()
    parts = [event["timestamp"], event["name"], value[:40], event["user_id"] or "-",
             event["capability"] or "-", event["id"]]  # fmt: skip
    typer.echo("  ".join(parts))


@app.command()
def export(
    project: Project = "default",
    format: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.NDJSON,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default: stdout).")
    ] = None,
    where: Where = "",
    since: Since = None,
    until: Until = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Stream every matching event, oldest first, in constant memory (progress on stderr)."""
    filters, window = _filters(where), _window(since, until)
    engine = open_engine(database_url)
    try:
        with engine.connect() as connection:
            total = count_events(connection, project, filters, window)
        raw = format is ExportFormat.NDJSON
        read = page_reader(engine.connect, project, filters, window, raw=raw)
        encoder = Encoder(format)
        with _Progress(total) as advance, _Sink(output) as sink:
            sink.write(encoder.header())
            page = read(None)
            while True:
                sink.write(encoder.page(page.events))
                advance(len(page.events))
                if page.end is None:
                    break
                page = read(page.end)
    finally:
        engine.dispose()


class _Sink:
    """stdout's bytes, or a file, as a context manager."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.file: BinaryIO | None = None

    def __enter__(self) -> BinaryIO:
        if self.path is None:
            return sys.stdout.buffer
        self.file = self.path.open("wb")
        return self.file

    def __exit__(self, *_: object) -> None:
        if self.file is not None:
            self.file.close()
        else:
            sys.stdout.buffer.flush()


class _Progress:
    """A rich progress bar on stderr, shown only when stderr is a terminal."""

    def __init__(self, total: int) -> None:
        console = Console(stderr=True)
        self.bar = Progress(
            TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=console, disable=not console.is_terminal,
        )  # fmt: skip
        self.task = self.bar.add_task("export", total=total)

    def __enter__(self) -> Any:
        self.bar.start()
        return lambda count: self.bar.advance(self.task, count)

    def __exit__(self, *_: object) -> None:
        self.bar.stop()


@app.command()
def send(
    project: Project = "default",
    name: Annotated[str | None, typer.Option(help="Feedback name (without stdin JSON).")] = None,
    value: Annotated[str | None, typer.Option(help="Value; read as JSON when it parses.")] = None,
    trace_id: Annotated[str | None, typer.Option()] = None,
    span_id: Annotated[str | None, typer.Option()] = None,
    user_id: Annotated[str | None, typer.Option()] = None,
    comment: Annotated[str | None, typer.Option()] = None,
    capability: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseUrl = None,
    json: Json = False,
) -> None:
    """Store feedback: flags for one event, or JSON on stdin (an object, a list, or NDJSON)."""
    if name is not None:
        fields = {"trace_id": trace_id, "span_id": span_id, "user_id": user_id,
                  "comment": comment, "capability": capability}  # fmt: skip
        raw_items: list[Any] = [_from_flags(name, value, fields)]
    else:
        raw_items = list(_stdin_items())
    now = datetime.now(UTC)
    events: list[FeedbackEvent] = []
    for index, raw in enumerate(raw_items):
        checked = validate_feedback(raw, pointer=f"/{index}", now=now, configs={})
        if isinstance(checked, list):
            raise fail("; ".join(f"{i.pointer}: {i.message}" for i in checked))
        events.append(checked)
    engine = open_engine(database_url)
    try:
        with engine.begin() as connection:
            take_write_lock(connection)
            record = StoreFeedback(project, events, now, "cli", pii=pii_mode(connection, project))
            statuses = record.apply(connection)
    finally:
        engine.dispose()
    results = [{"id": e.id, "status": s} for e, s in zip(events, statuses, strict=True)]
    emit({"results": results}, json, "\n".join(f"{r['status']} {r['id']}" for r in results))


def _from_flags(name: str, value: str | None, fields: dict[str, str | None]) -> dict[str, Any]:
    item: dict[str, Any] = {"name": name, **{k: v for k, v in fields.items() if v is not None}}
    if value is not None:
        try:
            item["value"] = msgspec.json.decode(value)
        except msgspec.DecodeError:
            item["value"] = value
    return item


def _stdin_items() -> Iterator[Any]:
    text = sys.stdin.read().strip()
    if not text:
        raise fail("give --name (and --value …) or JSON feedback on stdin")
    try:
        whole = msgspec.json.decode(text)
    except msgspec.DecodeError:
        whole = None
    if isinstance(whole, list):
        yield from whole
    elif isinstance(whole, dict):
        yield from whole.get("feedback", [whole]) if "feedback" in whole else [whole]
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    yield msgspec.json.decode(line)
                except msgspec.DecodeError:
                    raise fail(f"line {number} of stdin is not JSON") from None
