"""Datasets, their versions and examples in the database.

Every change is one call of `apply_changes` inside the writer's transaction: it compares the
incoming examples with the current ones, closes the rows it replaces or removes
(`version_to` = the new version), inserts the new contents, and records the version. A call that
changes nothing leaves the version as it was.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import Connection, Text, cast, delete, func, insert, or_, select, update

from plaudit.core.datasets import Example
from plaudit.core.times import rfc3339
from plaudit.errors import Conflict, NotFound
from plaudit.store.bulk import CHUNK, insert_rows
from plaudit.store.schema import dataset_examples, dataset_versions, datasets, to_micros

ExampleStatus = Literal["created", "duplicate", "revised"]
_ex = dataset_examples.c
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(dict[str, Any]).decode


def _current(project: str, dataset: str) -> list[Any]:
    return [_ex.project == project, _ex.dataset == dataset, _ex.version_to.is_(None)]


def _dataset_json(row: Any, count: int) -> dict[str, Any]:
    return {
        "name": row["name"],
        "description": row["description"],
        "version": row["version"],
        "count": count,
        "created_at": rfc3339(row["created_at"]),
    }


def create_dataset(
    connection: Connection, project: str, name: str, description: str | None, now: datetime
) -> dict[str, Any]:
    """A new empty dataset at version 0; Conflict if the name is taken in the project."""
    if dataset_row(connection, project, name) is not None:
        raise Conflict(f"a dataset named {name!r} already exists in project {project!r}")
    values = {"project": project, "name": name, "description": description}
    connection.execute(insert(datasets).values(**values, version=0, created_at=now))
    connection.execute(
        insert(dataset_versions).values(
            project=project, dataset=name, version=0, created_at=now, added=0, revised=0, removed=0
        )
    )
    return _dataset_json({**values, "version": 0, "created_at": now}, 0)


def dataset_row(connection: Connection, project: str, name: str) -> Any:
    """The dataset's row, or None."""
    query = select(datasets).where(datasets.c.project == project, datasets.c.name == name)
    return connection.execute(query).mappings().first()


def get_dataset(connection: Connection, project: str, name: str) -> dict[str, Any] | None:
    """The dataset with its current example count, or None."""
    row = dataset_row(connection, project, name)
    if row is None:
        return None
    count = connection.execute(
        select(func.count()).select_from(dataset_examples).where(*_current(project, name))
    ).scalar_one()
    return _dataset_json(row, int(count))


def list_datasets(
    connection: Connection, project: str, after: str | None, limit: int
) -> list[dict[str, Any]]:
    """Datasets by name after `after`, with their counts."""
    counts = (
        select(_ex.dataset, func.count().label("n"))
        .where(_ex.project == project, _ex.version_to.is_(None))
        .group_by(_ex.dataset)
        .subquery()
    )
    query = (
        select(datasets, func.coalesce(counts.c.n, 0).label("n"))
        .outerjoin(counts, counts.c.dataset == datasets.c.name)
        .where(datasets.c.project == project)
        .order_by(datasets.c.name)
        .limit(limit)
    )
    if after is not None:
        query = query.where(datasets.c.name > after)
    return [_dataset_json(row, int(row["n"])) for row in connection.execute(query).mappings()]


def delete_dataset(connection: Connection, project: str, name: str) -> bool:
    """Remove a dataset with every version; False if there was none."""
    if dataset_row(connection, project, name) is None:
        return False
    for table, column in (
        (dataset_examples, dataset_examples.c.dataset),
        (dataset_versions, dataset_versions.c.dataset),
        (datasets, datasets.c.name),
    ):
        connection.execute(delete(table).where(table.c.project == project, column == name))
    return True


def example_texts(
    connection: Connection,
    project: str,
    dataset: str,
    version: int,
    status: str | None,
    after: str | None,
    limit: int,
) -> list[tuple[str, bytes]]:
    """Up to `limit` examples of `version` as (id, content as JSON text), by id after `after`
    (optionally of one status). The text is the database's own, so exports and listings splice
    it into their answer instead of decoding and encoding every example again."""
    query = select(_ex.id, cast(_ex.content, Text)).where(
        _ex.project == project,
        _ex.dataset == dataset,
        _ex.version_from <= version,
        or_(_ex.version_to.is_(None), _ex.version_to > version),
    )
    if status is not None:
        query = query.where(_ex.annotation_status == status)
    if after is not None:
        query = query.where(_ex.id > after)
    rows = connection.execute(query.order_by(_ex.id).limit(limit)).all()
    return [(example_id, text.encode()) for example_id, text in rows]


def with_id(example_id: str, content: bytes) -> bytes:
    """An example's JSON (`{"id", …content}`) from its id and content text."""
    return b'{"id":' + _encode(example_id) + b"," + content.lstrip()[1:]


def examples_at(
    connection: Connection,
    project: str,
    dataset: str,
    version: int,
    status: str | None,
    after: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Up to `limit` examples of `version` as dicts (see `example_texts`)."""
    texts = example_texts(connection, project, dataset, version, status, after, limit)
    return [{"id": example_id, **_decode(content)} for example_id, content in texts]


def list_versions(connection: Connection, project: str, dataset: str) -> list[dict[str, Any]]:
    """Every version of a dataset, newest first, with what it changed."""
    query = (
        select(dataset_versions)
        .where(dataset_versions.c.project == project, dataset_versions.c.dataset == dataset)
        .order_by(dataset_versions.c.version.desc())
    )
    return [
        {
            "version": row["version"],
            "created_at": rfc3339(row["created_at"]),
            "added": row["added"],
            "revised": row["revised"],
            "removed": row["removed"],
        }
        for row in connection.execute(query).mappings()
    ]


def current_contents(
    connection: Connection, project: str, dataset: str, ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The current content of each of `ids` that exists."""
    found: dict[str, dict[str, Any]] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        query = select(_ex.id, _ex.content).where(*_current(project, dataset), _ex.id.in_(chunk))
        found.update({example_id: content for example_id, content in connection.execute(query)})
    return found


@dataclass
class Changes:
    """What one call does to a dataset: examples to store (by id, last wins) and ids to remove."""

    upserts: dict[str, Example] = field(default_factory=dict)
    removals: set[str] = field(default_factory=set)


@dataclass
class Applied:
    """The version after a call and each upserted example's status."""

    version: int
    statuses: dict[str, ExampleStatus]
    removed: int


def _hashes(
    connection: Connection, project: str, dataset: str, ids: Sequence[str]
) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        query = select(_ex.id, _ex.content_hash).where(
            *_current(project, dataset), _ex.id.in_(chunk)
        )
        found.update({i: h for i, h in connection.execute(query)})
    return found


def apply_changes(
    connection: Connection, project: str, dataset: str, changes: Changes, now: datetime
) -> Applied:
    """Store `changes` as one new version (or none when nothing differs)."""
    row = dataset_row(connection, project, dataset)
    if row is None:
        raise NotFound(f"no dataset {dataset!r} in project {project!r}")
    ids = sorted(set(changes.upserts) | changes.removals)
    known = _hashes(connection, project, dataset, ids)
    hashes = {example_id: e.content_hash for example_id, e in changes.upserts.items()}
    statuses: dict[str, ExampleStatus] = {}
    for example_id, digest in hashes.items():
        prior = known.get(example_id)
        statuses[example_id] = (
            "created" if prior is None else "duplicate" if prior == digest else "revised"
        )
    removed = sorted(i for i in changes.removals if i in known and i not in changes.upserts)
    written = [i for i, s in statuses.items() if s != "duplicate"]
    if not written and not removed:
        return Applied(row["version"], statuses, 0)
    version = row["version"] + 1
    closing = [i for i in written if statuses[i] == "revised"] + removed
    _close(connection, project, dataset, closing, version)
    new = [(changes.upserts[i], hashes[i]) for i in written]
    _insert(connection, project, dataset, new, version)
    _record_version(connection, project, dataset, version, now, statuses, len(removed))
    return Applied(version, statuses, len(removed))


def _close(
    connection: Connection, project: str, dataset: str, ids: list[str], version: int
) -> None:
    for start in range(0, len(ids), CHUNK):
        connection.execute(
            update(dataset_examples)
            .where(*_current(project, dataset), _ex.id.in_(ids[start : start + CHUNK]))
            .values(version_to=version)
        )


def _insert(
    connection: Connection,
    project: str,
    dataset: str,
    examples: list[tuple[Example, str]],
    version: int,
) -> None:
    rows = [
        {
            "project": project,
            "dataset": dataset,
            "id": example.id,
            "version_from": version,
            "version_to": None,
            "content": example.content,
            "content_hash": digest,
            "annotation_status": example.content["annotation_status"],
        }
        for example, digest in examples
    ]
    insert_rows(connection, dataset_examples, rows)


def _record_version(
    connection: Connection,
    project: str,
    dataset: str,
    version: int,
    now: datetime,
    statuses: dict[str, ExampleStatus],
    removed: int,
) -> None:
    counts = list(statuses.values())
    connection.execute(
        insert(dataset_versions).values(
            project=project,
            dataset=dataset,
            version=version,
            created_at=to_micros(now),
            added=counts.count("created"),
            revised=counts.count("revised"),
            removed=removed,
        )
    )
    connection.execute(
        update(datasets)
        .where(datasets.c.project == project, datasets.c.name == dataset)
        .values(version=version)
    )
