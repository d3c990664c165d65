"""`plaudit feedback`: send, list and export feedback, on the database or (with `--url`) on a
running server."""

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import msgspec
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from plaudit.analytics.export import MEDIA_TYPES, Encoder, ExportFormat, page_reader
from plaudit.cli.db import CreateProject, DatabaseUrl, Json, open_engine
from plaudit.cli.output import Group, emit, fail
from plaudit.cli.problems import Exit
from plaudit.cli.query import Project, show_query_error
from plaudit.cli.remote import Token, Url, refuse_project, server
from plaudit.core.feedback import FeedbackEvent
from plaudit.core.limits import MAX_BATCH_EVENTS
from plaudit.core.query.model import Filter, Moment, QueryError
from plaudit.core.query.text import parse_filters, parse_moment
from plaudit.core.validation import Issue, validate_feedback
from plaudit.store.event_search import Position, count_events, events_page
from plaudit.store.feedback import StoreFeedback, row_to_event
from plaudit.store.projects import pii_mode
from plaudit.store.schema import to_micros
from plaudit.store.sql_aggregate import Window
from plaudit.store.writer import take_write_lock

app = typer.Typer(help="Feedback events: send, list, export.", no_args_is_help=True, cls=Group)

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


def _moment(text: str | None, now: datetime) -> datetime | None:
    if text is None:
        return None
    try:
        moment: Moment = parse_moment(text)
    except QueryError as error:
        raise show_query_error(text, error) from None
    return moment if isinstance(moment, datetime) else moment.at(now)


def _window(since: str | None, until: str | None) -> Window:
    now = datetime.now(UTC)
    start, end = _moment(since, now), _moment(until, now)
    return Window(
        None if start is None else to_micros(start), None if end is None else to_micros(end)
    )


def _listing(where: str, since: str | None, until: str | None) -> dict[str, str]:
    """`GET /v1/feedback`'s parameters for these flags (times in RFC 3339)."""
    _filters(where)  # refused here, with the caret, as in local mode
    now = datetime.now(UTC)
    params = {"q": where} if where.strip() else {}
    for name, text in (("since", since), ("until", until)):
        if (moment := _moment(text, now)) is not None:
            params[name] = moment.isoformat()
    return params


@app.command("list")
def list_(
    project: Project = "default",
    where: Where = "",
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, typer.Option(help="At most this many (0: all).", min=0)] = 50,
    database_url: DatabaseUrl = None,
    url: Url = None,
    token: Token = None,
    json: Json = False,
) -> None:
    """List events, newest first; `--json` prints `{"items": [...]}` (`GET /v1/feedback`'s
    events)."""
    remote = server(url, token, database_url)
    if remote is not None:
        refuse_project(project)
        params: dict[str, Any] = {**_listing(where, since, until), "limit": 1000}
        events: Iterator[dict[str, Any]] = remote.pages("/v1/feedback", params)
    else:
        events = _local_events(project, where, since, until, database_url)
    shown: list[dict[str, Any]] = []
    for event in events:
        if limit and len(shown) >= limit:
            break
        if json:
            shown.append(event)
        else:
            _print_event(event)
            shown.append({})
    if json:
        emit({"items": shown}, True, "")


def _local_events(
    project: str, where: str, since: str | None, until: str | None, database_url: str | None
) -> Iterator[dict[str, Any]]:
    filters, window = _filters(where), _window(since, until)
    engine = open_engine(database_url, project)
    after: Position | None = None
    try:
        while True:
            with engine.connect() as connection:
                rows = events_page(connection, project, filters, window, after, 500, True)
            yield from (row_to_event(row) for row in rows)
            if len(rows) < 500:
                return
            after = (to_micros(rows[-1]["timestamp"]), rows[-1]["id"])
    finally:
        engine.dispose()


def _print_event(event: dict[str, Any]) -> None:
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
    url: Url = None,
    token: Token = None,
) -> None:
    """Stream every matching event, oldest first, in constant memory (progress on stderr)."""
    remote = server(url, token, database_url)
    if remote is not None:
        refuse_project(project)
        if format is ExportFormat.OTEL:
            raise fail("--format otel is written from the database; with --url use ndjson or csv",
                       Exit.USAGE)  # fmt: skip
        params = _listing(where, since, until)
        accept = {"accept": MEDIA_TYPES[format]}
        with _Sink(output) as sink:
            for chunk in remote.stream("GET", "/v1/feedback", params=params, headers=accept):
                sink.write(chunk)
        return
    filters, window = _filters(where), _window(since, until)
    engine = open_engine(database_url, project)
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
    create_project: CreateProject = False,
    database_url: DatabaseUrl = None,
    url: Url = None,
    token: Token = None,
    json: Json = False,
) -> None:
    """Store feedback: flags for one event, or JSON on stdin (an object, a list, or NDJSON).

    Like `POST /v1/feedback` with a batch, each item is checked on its own: valid ones are
    stored, invalid ones are reported with the reason, and the exit code is 1 if any was
    rejected. Prints a summary (`--json`: `{"results": [...], "summary": {...}}`)."""
    if name is not None:
        fields = {"trace_id": trace_id, "span_id": span_id, "user_id": user_id,
                  "comment": comment, "capability": capability}  # fmt: skip
        raw_items: list[Any] = [_from_flags(name, value, fields)]
    else:
        raw_items = list(_stdin_items())
    remote = server(url, token, database_url)
    if remote is not None:
        refuse_project(project)
        results: list[dict[str, Any]] = []
        for start in range(0, len(raw_items), MAX_BATCH_EVENTS):
            batch = {"feedback": raw_items[start : start + MAX_BATCH_EVENTS]}
            results += remote.json("POST", "/v1/feedback", json=batch)["results"]
    else:
        results = _store_locally(raw_items, project, create_project, database_url)
    _summarise(results, json)


def _store_locally(
    raw_items: list[Any], project: str, create_project: bool, database_url: str | None
) -> list[dict[str, Any]]:
    """Check each item, store the valid ones in one transaction; the API's results."""
    now = datetime.now(UTC)
    results: list[dict[str, Any] | None] = []
    events: list[tuple[int, FeedbackEvent]] = []
    for index, raw in enumerate(raw_items):
        checked = validate_feedback(raw, pointer=f"/{index}", now=now, configs={})
        if isinstance(checked, list):
            results.append(_rejected(raw, checked))
        else:
            results.append(None)
            events.append((index, checked))
    engine = open_engine(database_url, project, create_project)
    try:
        if events:
            with engine.begin() as connection:
                take_write_lock(connection)
                record = StoreFeedback(project, [e for _, e in events], now, "cli",
                                       pii=pii_mode(connection, project))  # fmt: skip
                statuses = record.apply(connection)
            for (index, event), status in zip(events, statuses, strict=True):
                results[index] = {"id": event.id, "status": status}
    finally:
        engine.dispose()
    return [r for r in results if r is not None]


def _rejected(raw: Any, issues: list[Issue]) -> dict[str, Any]:
    item_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
    return {
        "id": item_id,
        "status": "rejected",
        "error": {
            "detail": "; ".join(f"{i.pointer or '/'}: {i.message}" for i in issues),
            "errors": [{"pointer": i.pointer, "detail": i.message} for i in issues],
        },
    }


def _summarise(results: list[dict[str, Any]], as_json: bool) -> None:
    """Print the results (rejections one by one on stderr) and exit 1 if any was rejected."""
    counts: dict[str, int] = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    rejected = counts.get("rejected", 0)
    if as_json:
        emit({"results": results, "summary": counts}, True, "")
    else:
        for number, result in enumerate(results, 1):
            if result["status"] == "rejected":
                named = f" ({result['id']})" if result["id"] else ""
                typer.echo(f"rejected item {number}{named}: {result['error']['detail']}", err=True)
        shown = ", ".join(f"{counts[s]} {s}" for s in sorted(counts)) or "nothing to send"
        typer.echo(f"{len(results)} items: {shown}")
    if rejected:
        raise typer.Exit(int(Exit.REFUSED))


def _from_flags(name: str, value: str | None, fields: dict[str, str | None]) -> dict[str, Any]:
    item: dict[str, Any] = {"name": name, **{k: v for k, v in fields.items() if v is not None}}
    if value is not None:
        try:
            item["value"] = msgspec.json.decode(value)
        except msgspec.DecodeError:
            item["value"] = value
    return item


def _stdin_items() -> Iterator[Any]:
    if sys.stdin.isatty():
        raise fail("give --name (and --value …) or pipe JSON feedback to stdin", Exit.USAGE)
    text = sys.stdin.read().strip()
    if not text:
        raise fail("give --name (and --value …) or JSON feedback on stdin", Exit.USAGE)
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
                    raise fail(f"line {number} of stdin is not JSON", Exit.USAGE) from None
