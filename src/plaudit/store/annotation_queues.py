"""Annotation queues and their items in the database.

An item's id comes from what it points at (a span, or a dataset row), so adding the same span
twice, by hand or by fill, makes one item. A reviewer who opens an item holds it for a few
minutes (`held_by`, `held_until`), so two reviewers never get the same pending item at once.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from plaudit.core.datasets import span_example_id
from plaudit.core.times import rfc3339
from plaudit.errors import Conflict
from plaudit.store.bulk import CHUNK, insert_rows
from plaudit.store.schema import annotation_items, annotation_queues, to_micros, tokens

HOLD: Final = timedelta(minutes=5)
_it = annotation_items.c
_q = annotation_queues.c


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else rfc3339(moment)


@dataclass(frozen=True, slots=True)
class ItemTarget:
    """What an item is about: a span (or a trace), optionally as a dataset row."""

    trace_id: str | None
    span_id: str | None
    dataset: str | None = None
    example_id: str | None = None

    @property
    def item_id(self) -> str:
        """The item's id, derived so each target is queued once."""
        if self.dataset is not None:
            key = f"{self.dataset}\0{self.example_id}".encode()
            return "d" + hashlib.blake2b(key, digest_size=16).hexdigest()
        assert self.trace_id is not None
        return span_example_id(self.trace_id, self.span_id)


def queue_row(connection: Connection, project: str, name: str) -> Any:
    """The queue's row, or None."""
    query = select(annotation_queues).where(_q.project == project, _q.name == name)
    return connection.execute(query).mappings().first()


def counts(connection: Connection, project: str, names: Sequence[str]) -> dict[str, dict[str, int]]:
    """Pending and done items per queue."""
    found = {name: {"pending": 0, "done": 0} for name in names}
    query = (
        select(_it.queue, _it.status, func.count())
        .where(_it.project == project, _it.queue.in_(list(names)))
        .group_by(_it.queue, _it.status)
    )
    for queue, status, count in connection.execute(query):
        found[queue][status] = int(count)
    return found


def queue_json(row: Any, counted: dict[str, int]) -> dict[str, Any]:
    """The API's shape of a queue."""
    return {
        "name": row["name"],
        "feedback_names": row["feedback_names"],
        "instructions": row["instructions"],
        "fill": row["fill"],
        "created_at": _iso(row["created_at"]),
        "counts": counted,
    }


def create_queue(
    connection: Connection,
    project: str,
    name: str,
    settings: dict[str, Any],
    now: datetime,
) -> Any:
    """A new queue from `settings` (feedback_names, instructions, fill); Conflict if the name
    is taken."""
    if queue_row(connection, project, name) is not None:
        raise Conflict(f"an annotation queue named {name!r} already exists in project {project!r}")
    connection.execute(
        insert(annotation_queues).values(project=project, name=name, created_at=now, **settings)
    )
    return queue_row(connection, project, name)


def list_queues(
    connection: Connection, project: str, after: str | None, limit: int
) -> list[dict[str, Any]]:
    """Queues by name after `after`, with their counts."""
    query = select(annotation_queues).where(_q.project == project).order_by(_q.name).limit(limit)
    if after is not None:
        query = query.where(_q.name > after)
    rows = connection.execute(query).mappings().all()
    counted = counts(connection, project, [r["name"] for r in rows])
    return [queue_json(row, counted[row["name"]]) for row in rows]


def delete_queue(connection: Connection, project: str, name: str) -> bool:
    """Remove a queue and its items; False if there was none."""
    if queue_row(connection, project, name) is None:
        return False
    connection.execute(delete(annotation_items).where(_it.project == project, _it.queue == name))
    connection.execute(delete(annotation_queues).where(_q.project == project, _q.name == name))
    return True


def add_items(
    connection: Connection,
    project: str,
    queue: str,
    targets: Sequence[ItemTarget],
    now: datetime,
) -> list[str]:
    """Queue the targets not queued yet; the ids of those added."""
    new = unqueued(connection, project, queue, targets)
    rows = [_item_row(project, queue, target, now) for target in new]
    if rows:
        insert_rows(connection, annotation_items, rows)
    return [t.item_id for t in new]


def unqueued(
    connection: Connection, project: str, queue: str, targets: Sequence[ItemTarget]
) -> list[ItemTarget]:
    """The targets not in the queue yet (each once)."""
    wanted = {t.item_id: t for t in targets}
    known: set[str] = set()
    ids = sorted(wanted)
    for start in range(0, len(ids), CHUNK):
        query = select(_it.id).where(
            _it.project == project, _it.queue == queue, _it.id.in_(ids[start : start + CHUNK])
        )
        known.update(connection.scalars(query))
    return [wanted[i] for i in ids if i not in known]


def _item_row(project: str, queue: str, target: ItemTarget, now: datetime) -> dict[str, Any]:
    return {
        "project": project,
        "queue": queue,
        "id": target.item_id,
        "status": "pending",
        "trace_id": target.trace_id,
        "span_id": target.span_id,
        "dataset": target.dataset,
        "example_id": target.example_id,
        "created_at": to_micros(now),
        "done_by": None,
        "done_at": None,
        "held_by": None,
        "held_until": None,
    }


def item_json(row: Any) -> dict[str, Any]:
    """The API's shape of an item (optional fields only when set)."""
    item = {k: row[k] for k in ("id", "status", "trace_id", "span_id")}
    for key in ("dataset", "example_id", "done_by"):
        if row[key] is not None:
            item[key] = row[key]
    if row["done_at"] is not None:
        item["done_at"] = _iso(row["done_at"])
    return item


def list_items(
    connection: Connection,
    project: str,
    queue: str,
    status: str | None,
    after: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Items by id after `after`, optionally of one status."""
    query = select(annotation_items).where(_it.project == project, _it.queue == queue)
    if status is not None:
        query = query.where(_it.status == status)
    if after is not None:
        query = query.where(_it.id > after)
    rows = connection.execute(query.order_by(_it.id).limit(limit)).mappings()
    return [item_json(row) for row in rows]


def item_row(connection: Connection, project: str, queue: str, item_id: str) -> Any:
    """One item's row, or None."""
    query = select(annotation_items).where(
        _it.project == project, _it.queue == queue, _it.id == item_id
    )
    return connection.execute(query).mappings().first()


def hold_next(
    connection: Connection,
    project: str,
    queue: str,
    reviewer: str,
    skip: Sequence[str],
    now: datetime,
) -> Any:
    """The oldest pending item nobody else holds (not in `skip`), now held for `reviewer`."""
    free = or_(_it.held_until.is_(None), _it.held_until < now, _it.held_by == reviewer)
    query = select(annotation_items).where(
        _it.project == project, _it.queue == queue, _it.status == "pending", free
    )
    if skip:
        # Skipped items go back to the others at once instead of waiting out the hold.
        connection.execute(
            update(annotation_items)
            .where(_it.project == project, _it.queue == queue, _it.id.in_(list(skip)))
            .where(_it.held_by == reviewer)
            .values(held_by=None, held_until=None)
        )
        query = query.where(_it.id.not_in(list(skip)))
    row = connection.execute(query.order_by(_it.created_at, _it.id).limit(1)).mappings().first()
    if row is None:
        return None
    _set(connection, project, queue, row["id"], held_by=reviewer, held_until=now + HOLD)
    return item_row(connection, project, queue, row["id"])


def _set(connection: Connection, project: str, queue: str, item_id: str, **values: Any) -> None:
    connection.execute(
        update(annotation_items)
        .where(_it.project == project, _it.queue == queue, _it.id == item_id)
        .values(**values)
    )


def mark_done(
    connection: Connection, project: str, queue: str, item_id: str, reviewer: str, now: datetime
) -> Any:
    """Mark an item done by `reviewer` (releasing its hold); its row after."""
    _set(
        connection, project, queue, item_id,
        status="done", done_by=reviewer, done_at=now, held_by=None, held_until=None,
    )  # fmt: skip
    return item_row(connection, project, queue, item_id)


def token_name(connection: Connection, token_id: str) -> str | None:
    """A token's name (None when it has none)."""
    name = connection.scalar(select(tokens.c.name).where(tokens.c.id == token_id))
    return name or None


def fill_queues(connection: Connection) -> list[Any]:
    """Every queue that fills itself from a filter."""
    query = select(annotation_queues).where(_q.fill.is_not(None))
    return list(connection.execute(query).mappings())


def set_fill_mark(connection: Connection, project: str, queue: str, mark: int) -> None:
    """Remember how far fill has looked (micros of `received_at`)."""
    connection.execute(
        update(annotation_queues)
        .where(_q.project == project, _q.name == queue)
        .values(fill_mark=mark)
    )
