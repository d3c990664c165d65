"""Feedback events in the database: idempotent insert, revision with history, delete, reads."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, Self

import msgspec
from sqlalchemy import Connection, Dialect, delete, insert, select

from plaudit.core.feedback import FeedbackEvent, LinkStatus, Source, label_value, numeric_value
from plaudit.core.pii import ScanBudget
from plaudit.core.privacy import PiiMode, Screened, screen
from plaudit.core.times import rfc3339, rfc3339_micros
from plaudit.store import rollup_writes
from plaudit.store.bulk import (
    FEW,
    execute,
    insert_new_rows,
    insert_rows,
    json_text,
    rows_in,
    update_row,
)
from plaudit.store.links import SpanFacts, known_targets
from plaudit.store.schema import feedback, feedback_history, to_micros
from plaudit.store.writer import WriteOp

Status = Literal["created", "duplicate", "revised", "refused"]
"""`refused`: a browser-safe token named the id of an event it may not revise (see `_Known`)."""

# Columns a client's content fills; the rest are the server's.
CONTENT_COLUMNS = (
    "trace_id", "span_id", "conversation_id", "capability", "step", "name", "kind", "value",
    "comment", "expected", "scores", "signal_type", "source", "implicit", "user_id", "metadata",
    "tags", "timestamp", "response_id",
)  # fmt: skip


def _row(
    project: str, event: FeedbackEvent, received_at: datetime, browser: bool
) -> dict[str, Any]:
    return {
        "project": project,
        "id": event.id,
        "trace_id": event.trace_id,
        "span_id": event.span_id,
        "conversation_id": event.conversation_id,
        "capability": event.capability,
        "step": event.step,
        "name": event.name,
        "kind": event.kind.value,
        "value": json_text(event.value),
        "value_num": numeric_value(event.kind, event.value),
        "value_text": label_value(event.kind, event.value),
        "comment": event.comment,
        "expected": json_text(event.expected),
        "scores": json_text(event.scores),
        "signal_type": event.signal_type.value,
        "source": event.source.value,
        "implicit": event.implicit,
        "user_id": event.user_id,
        "metadata": json_text(event.metadata),
        "tags": json_text(event.tags),
        "timestamp": to_micros(event.timestamp),
        "received_at": to_micros(received_at),
        "link_status": LinkStatus.PENDING.value,
        "pii": None,
        "content_hash": event.content_hash,
        "revision": 1,
        "browser": browser,
        "response_id": event.response_id,
    }


def apply_screen(row: dict[str, Any], event: FeedbackEvent, screened: Screened) -> None:
    """Store the event's free text as screened for PII, and the types found."""
    row["comment"] = screened.comment
    row["value"] = json_text(screened.value)
    row["value_text"] = label_value(event.kind, screened.value)
    row["expected"] = json_text(screened.expected)
    row["pii"] = json_text(screened.types)


def apply_link(row: dict[str, Any], found: SpanFacts | bool) -> None:
    """Mark a row linked and fill what it lacks from its span."""
    if found is False:
        return
    row["link_status"] = LinkStatus.LINKED.value
    if isinstance(found, SpanFacts):
        row["trace_id"] = row["trace_id"] or found.trace_id
        row["span_id"] = row["span_id"] or found.span_id
        row["capability"] = row["capability"] or found.capability
        row["step"] = row["step"] or found.step


@dataclass(slots=True)
class _Known:
    """What deciding duplicate, revision or refusal needs of an event already stored."""

    content_hash: str
    revision: int
    browser: bool
    source: str
    user_id: str | None

    def revisable_by_browser(self, user_id: str | None) -> bool:
        """A browser-safe token may revise only end-user events a browser token wrote for the
        same user: never an annotator's, evaluator's or app's, nor a server-written one."""
        return self.browser and self.source == Source.END_USER.value and self.user_id == user_id


class StoreFeedback(WriteOp[list[Status]]):
    """Store validated events of one project; answers each event's status, in order.

    `pii` is the project's PII mode: free text is screened here, when the op is made, on the
    caller's thread — a slow scan must never hold the single writer that every project shares
    (callers on an event loop make the op in a worker thread). `browser` says a browser-safe
    token sent the events, which limits what they may revise.
    """

    def __init__(
        self,
        project: str,
        events: Sequence[FeedbackEvent],
        received_at: datetime,
        actor: str | None,
        *,
        pii: PiiMode,
        browser: bool = False,
        budget: ScanBudget | None = None,
    ) -> None:
        self.project = project
        self.events = events
        self.received_at = received_at
        self.actor = actor
        self.browser = browser
        # Rows are made here, on the caller's thread, so the single writer thread only links,
        # deduplicates and inserts them.
        self.rows = [_row(project, event, received_at, browser) for event in events]
        shared = budget or ScanBudget()
        for event, row in zip(events, self.rows, strict=True):
            if (screened := screen(event, pii, shared)) is not None:
                apply_screen(row, event, screened)

    def weight(self) -> int:
        return max(1, len(self.events))

    @property
    def stored_values(self) -> list[Any]:
        """Each event's value as it will be stored: after PII screening."""
        return [None if r["value"] is None else msgspec.json.decode(r["value"]) for r in self.rows]

    def apply(self, connection: Connection) -> list[Status]:
        return self.apply_group(connection, [self])[0]

    @classmethod
    def apply_group(cls, connection: Connection, ops: Sequence[Self]) -> list[list[Status]]:
        by_project: dict[str, list[Self]] = {}
        for op in ops:
            by_project.setdefault(op.project, []).append(op)
        results: dict[int, list[Status]] = {}
        for project, project_ops in by_project.items():
            _Batch(connection, project, project_ops).store(results)
        return [results[id(op)] for op in ops]


class _Batch:
    """All events of one project in one group commit.

    The first event of each id is inserted at once, before anything else, with ON CONFLICT DO
    NOTHING: the primary key's uniqueness check decides which ids are new, and only those it
    turns away (a retry, a revision) are read. For up to `FEW` ids the same statement reads the
    last archived revision of each (an id deleted before continues after it), so a one-event
    commit is one statement besides the span lookup and the rollups. PostgreSQL always takes
    this path: a separate lookup of 500 ids was a round trip per commit, and on a table not yet
    analysed its plan read the whole project. SQLite takes it for a few ids; a bigger batch
    looks its ids up in one statement and inserts the new events together at the end, with
    `executemany`, which is cheaper per row there than one statement with many VALUES.
    """

    def __init__(self, connection: Connection, project: str, ops: Sequence[StoreFeedback]) -> None:
        self.connection = connection
        self.project = project
        self.ops = ops
        self.to_insert: dict[str, dict[str, Any]] = {}
        self.inserted: set[int] = set()
        """`id()` of the rows inserted before the events are decided in order."""
        self.first: dict[str, tuple[StoreFeedback, FeedbackEvent, dict[str, Any]]] = {}
        for op in ops:
            for event, row in zip(op.events, op.rows, strict=True):
                self.first.setdefault(event.id, (op, event, row))
        postgres = connection.dialect.name == "postgresql"
        self.few = len(self.first) <= FEW and (postgres or _sqlite_returns(connection))
        self.claim = postgres or self.few
        given = {e.id for op in ops for e in op.events if e.id_was_given}
        self.known = {} if self.claim else self._existing(given)
        self.archived = (
            {} if self.few else _last_archived(connection, project, given - set(self.known))
        )
        self.targets = known_targets(
            connection,
            project,
            (e.span_id for op in ops for e in op.events if e.span_id),
            (e.trace_id for op in ops for e in op.events if e.trace_id and not e.span_id),
            (
                e.conversation_id
                for op in ops
                for e in op.events
                if e.conversation_id and not (e.trace_id or e.span_id or e.response_id)
            ),
            (e.response_id for op in ops for e in op.events if e.response_id and not e.span_id),
        )

    def _existing(self, ids: set[str]) -> dict[str, _Known]:
        columns = ("id", "content_hash", "revision", "browser", "source", "user_id")
        rows = rows_in(self.connection, feedback, columns, self.project, "id", ids)
        return {row[0]: _Known(row[1], row[2], bool(row[3]), row[4], row[5]) for row in rows}

    def store(self, results: dict[int, list[Status]]) -> None:
        if self.claim:
            self._insert_first_of_each_id()
        for op in self.ops:
            results[id(op)] = [
                "created" if id(row) in self.inserted else self._one(op, event, row)
                for event, row in zip(op.events, op.rows, strict=True)
            ]
        self._flush()

    def _insert_first_of_each_id(self) -> None:
        """Insert each id's first event as new; learn the ids already stored from the refusals."""
        first = self.first
        for _, event, row in first.values():
            self._link(event, row)
        rows = [row for _, _, row in first.values()]
        if self.few:
            revisions = _insert_new_few(self.connection, rows)
            for row in rows:
                if (revision := revisions.get(row["id"])) is not None:
                    row["revision"] = revision
            new = set(revisions)
        else:
            for row in rows:
                row["revision"] = self.archived.get(row["id"], 0) + 1
            new = insert_new_rows(self.connection, feedback, rows, ("project", "id"), "id")
        inserted = [row for row in rows if row["id"] in new]
        rollup_writes.add_inserted(self.connection, self.project, inserted)
        self.known = self._existing(set(first) - new)
        for event_id in new:
            op, event, row = first[event_id]
            self.inserted.add(id(row))
            self.known[event_id] = _known(event, row["revision"], op.browser)

    def _link(self, event: FeedbackEvent, row: dict[str, Any]) -> None:
        found = self.targets.resolve(
            event.trace_id, event.span_id, event.conversation_id, event.response_id
        )
        apply_link(row, found)

    def _one(self, op: StoreFeedback, event: FeedbackEvent, row: dict[str, Any]) -> Status:
        prior = self.known.get(event.id)
        if prior is not None and op.browser and not prior.revisable_by_browser(event.user_id):
            return "refused"
        if prior is not None and prior.content_hash == event.content_hash:
            return "duplicate"
        self._link(event, row)
        if prior is None:
            # An id deleted before continues after its archived revisions, never back at 1.
            row["revision"] = self.archived.pop(event.id, 0) + 1
            self.to_insert[event.id] = row
            self.known[event.id] = _known(event, row["revision"], op.browser)
            return "created"
        if event.id in self.to_insert:
            self._flush()
        row["revision"] = prior.revision + 1
        _archive(self.connection, self.project, event.id, "revised", op.received_at, op.actor)
        values = {k: v for k, v in row.items() if k not in ("project", "id")}
        rollup_writes.remove(self.connection, self.project, [event.id])
        update_row(self.connection, feedback, {"project": self.project, "id": event.id}, values)
        rollup_writes.add(self.connection, self.project, [event.id])
        self.known[event.id] = _known(event, row["revision"], op.browser)
        return "revised"

    def _flush(self) -> None:
        if self.to_insert:
            rows = list(self.to_insert.values())
            insert_rows(self.connection, feedback, rows, encoded=True)
            rollup_writes.add_inserted(self.connection, self.project, rows)
            self.to_insert.clear()


def _sqlite_returns(connection: Connection) -> bool:
    """Whether this SQLite has INSERT … RETURNING (3.35), taken from 3.38 on, past its first
    releases' fixes."""
    version = connection.dialect.server_version_info
    return version is not None and tuple(version) >= (3, 38)


@lru_cache(maxsize=2 * FEW)
def _new_few_statement(dialect: Dialect, columns: tuple[str, ...], count: int) -> str:
    """INSERT of `count` rows of `columns`, each unless its id is stored, with `revision`
    computed from the history (from the project and id given in its place); RETURNING the id
    and revision of each row inserted."""
    quote = dialect.identifier_preparer.quote
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    revision = (
        f"(SELECT coalesce(max(revision), 0) + 1 FROM {quote(feedback_history.name)} "
        f"WHERE project = {marker} AND feedback_id = {marker})"
    )
    row = f"({', '.join(revision if c == 'revision' else marker for c in columns)})"
    return (
        f"INSERT INTO {quote(feedback.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES {', '.join([row] * count)} "
        "ON CONFLICT (project, id) DO NOTHING RETURNING id, revision"
    )


def _insert_new_few(connection: Connection, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert those of a few `rows` whose id is not stored yet, each at the revision after the
    last one its id's history holds (1 for an id never deleted); their ids and revisions."""
    if not rows:
        return {}
    columns = tuple(rows[0])
    at = columns.index("revision")
    params: list[Any] = []
    for row in rows:
        values = list(row.values())
        values[at : at + 1] = (row["project"], row["id"])
        params += values
    statement = _new_few_statement(connection.dialect, columns, len(rows))
    return dict(execute(connection, statement, params))


def _last_archived(connection: Connection, project: str, ids: set[str]) -> dict[str, int]:
    """The highest revision in the history of each of `ids` that has one (deleted ids)."""
    columns = ("feedback_id", "revision")
    last: dict[str, int] = {}
    for event_id, revision in rows_in(
        connection, feedback_history, columns, project, "feedback_id", ids
    ):
        last[event_id] = max(revision, last.get(event_id, 0))
    return last


def _known(event: FeedbackEvent, revision: int, browser: bool) -> _Known:
    return _Known(event.content_hash, revision, browser, event.source.value, event.user_id)


def current_row(connection: Connection, project: str, event_id: str) -> Any:
    """The stored row of an event, or None."""
    query = select(feedback).where(feedback.c.project == project, feedback.c.id == event_id)
    return connection.execute(query).mappings().first()


def _archive(
    connection: Connection,
    project: str,
    event_id: str,
    operation: str,
    recorded_at: datetime,
    actor: str | None,
) -> bool:
    """Copy an event's current version into its history; False if there is none."""
    row = current_row(connection, project, event_id)
    if row is None:
        return False
    connection.execute(
        insert(feedback_history).values(
            project=project,
            feedback_id=event_id,
            revision=row["revision"],
            operation=operation,
            content=row_to_event(row),
            recorded_at=recorded_at,
            actor=actor,
        )
    )
    return True


class DeleteFeedback(WriteOp[bool]):
    """Remove an event, keeping its last version in the history; False if it did not exist."""

    def __init__(self, project: str, event_id: str, at: datetime, actor: str | None) -> None:
        self.project, self.event_id, self.at, self.actor = project, event_id, at, actor

    def apply(self, connection: Connection) -> bool:
        if not _archive(connection, self.project, self.event_id, "deleted", self.at, self.actor):
            return False
        rollup_writes.remove(connection, self.project, [self.event_id])
        connection.execute(
            delete(feedback).where(
                feedback.c.project == self.project, feedback.c.id == self.event_id
            )
        )
        return True


EVENT_FIELDS = ("id", "project", *CONTENT_COLUMNS, "received_at", "link_status", "pii", "revision")
"""An event's fields in the API, in the order it writes them."""


def row_to_event(row: Any) -> dict[str, Any]:
    """The API's JSON shape of a stored row (times as RFC 3339 strings)."""
    event: dict[str, Any] = {name: row[name] for name in EVENT_FIELDS}
    event["timestamp"] = rfc3339(row["timestamp"])
    event["received_at"] = rfc3339(row["received_at"])
    return event


class RawEvent(msgspec.Struct):
    """An event that JSON-encodes to exactly what `row_to_event` gives for it, made from a row of
    `events_page(raw=True)` without decoding anything: exports copy millions of them."""

    # The fields in EVENT_FIELDS order (a test checks): msgspec writes them in this order.
    id: str
    project: str
    trace_id: str | None
    span_id: str | None
    conversation_id: str | None
    capability: str | None
    step: str | None
    name: str
    kind: str
    value: Any
    comment: str | None
    expected: Any
    scores: Any
    signal_type: str
    source: str
    implicit: bool
    user_id: str | None
    metadata: Any
    tags: Any
    timestamp: Any
    response_id: str | None
    received_at: Any
    link_status: str
    pii: Any
    revision: int


def raw_rows_to_events(rows: Sequence[Sequence[Any]], json_is_text: bool) -> list[RawEvent]:
    """`row_to_event` of plain rows read with `events_page(raw=True)`, as `RawEvent`s.

    Times come as micros. `json_is_text` (SQLite): JSON columns come as their stored text, which
    becomes `msgspec.Raw` that the encoder copies unchanged — decoding it to encode it again was
    most of an export's time. PostgreSQL's driver decodes jsonb itself (its text form would
    differ in spacing from the API's JSON).
    """
    events = [RawEvent(*row) for row in rows]
    for event in events:
        event.timestamp = rfc3339_micros(event.timestamp)
        event.received_at = rfc3339_micros(event.received_at)
    if json_is_text:
        for event in events:
            event.value = _raw(event.value)
            event.expected = _raw(event.expected)
            event.scores = _raw(event.scores)
            event.metadata = _raw(event.metadata)
            event.tags = _raw(event.tags)
            event.pii = _raw(event.pii)
    return events


def _raw(stored: Any) -> Any:
    # SQLite's numeric affinity may have stored a JSON number as a number: it stays one.
    return msgspec.Raw(stored) if isinstance(stored, str) else stored


def get_feedback(connection: Connection, project: str, event_id: str) -> dict[str, Any] | None:
    """One current event with its past versions under `history` (newest first)."""
    row = current_row(connection, project, event_id)
    if row is None:
        return None
    event = row_to_event(row)
    event["history"] = history_of(connection, project, event_id)
    return event


def history_of(connection: Connection, project: str, event_id: str) -> list[dict[str, Any]]:
    """Past versions of an event, newest first, each with what replaced or removed it."""
    query = (
        select(feedback_history)
        .where(feedback_history.c.project == project, feedback_history.c.feedback_id == event_id)
        .order_by(feedback_history.c.seq.desc())
    )
    return [
        {
            "revision": row["revision"],
            "operation": row["operation"],
            "recorded_at": rfc3339(row["recorded_at"]),
            "content": row["content"],
        }
        for row in connection.execute(query).mappings()
    ]
