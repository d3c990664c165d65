"""Creating annotation queues and adding items to them by hand."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from sqlalchemy import Connection

from plaudit.core.configs import FeedbackConfig
from plaudit.core.datasets import DatasetName
from plaudit.core.ids import is_event_id, is_span_id, is_trace_id
from plaudit.core.validation import Issue
from plaudit.errors import ValidationFailed
from plaudit.loop.datasets import filters_of, window_of
from plaudit.loop.queue_fill import fill_queue
from plaudit.store.annotation_queues import (
    ItemTarget,
    add_items,
    counts,
    create_queue,
    queue_json,
)
from plaudit.store.datasets import current_contents


class FillIn(msgspec.Struct, forbid_unknown_fields=True):
    """The saved filter a queue fills from."""

    query: str
    since: str | None = None
    # Beyond what a queue must do: each matching span also becomes a row of this dataset, and the
    # item is that row, so reviews fill the dataset.
    dataset: DatasetName | None = None


class QueueIn(msgspec.Struct, forbid_unknown_fields=True):
    """A queue to create."""

    name: DatasetName
    feedback_names: Annotated[list[str], msgspec.Meta(min_length=1, max_length=20)]
    instructions: Annotated[str, msgspec.Meta(max_length=16_384)] | None = None
    fill: FillIn | None = None


def checked_queue(
    body: QueueIn, configs: Mapping[str, FeedbackConfig], datasets: Sequence[str] = ()
) -> dict[str, Any]:
    """The stored settings of a new queue, or a 422: every feedback name must be configured
    (reviewers are offered its values) and the fill filter must parse."""
    issues = [
        Issue(f"/feedback_names/{i}", f"no feedback config named {n!r}; create it first")
        for i, n in enumerate(body.feedback_names)
        if n not in configs
    ]
    if issues:
        raise ValidationFailed("reviewers answer configured feedback names", issues=issues)
    fill = None
    if body.fill is not None:
        filters_of(body.fill.query, "/fill/query")
        window_of(body.fill.since, None, "/fill", datetime.now(UTC))
        if body.fill.dataset is not None and body.fill.dataset not in datasets:
            problem = f"no dataset named {body.fill.dataset!r}; create it first"
            raise ValidationFailed(problem, issues=[Issue("/fill/dataset", problem)])
        fill = msgspec.to_builtins(body.fill)
    return {
        "feedback_names": body.feedback_names,
        "instructions": body.instructions,
        "fill": fill,
    }


def setup_queue(
    connection: Connection, project: str, name: str, settings: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Create the queue and queue what its filter matches already."""
    row = create_queue(connection, project, name, settings, now)
    if row["fill"] is not None:
        fill_queue(connection, row, now)
    return queue_json(row, counts(connection, project, [name])[name])


def _target(connection: Connection, project: str, raw: Any) -> ItemTarget | str:
    """The target of one hand-added item, or why it is refused."""
    if not isinstance(raw, dict):
        return "an item is an object"
    if "dataset" in raw or "example_id" in raw:
        dataset, example_id = raw.get("dataset"), raw.get("example_id")
        if not (isinstance(dataset, str) and isinstance(example_id, str)):
            return "a dataset item names `dataset` and `example_id`"
        if not is_event_id(example_id):
            return "`example_id` is not an example id"
        found = current_contents(connection, project, dataset, [example_id]).get(example_id)
        if found is None:
            return f"no example {example_id!r} in dataset {dataset!r}"
        source = found.get("source") or {}
        return ItemTarget(source.get("trace_id"), source.get("span_id"), dataset, example_id)
    trace_id, span_id = raw.get("trace_id"), raw.get("span_id")
    if not (isinstance(trace_id, str) and is_trace_id(trace_id)):
        return "`trace_id` must be 32 lowercase hex characters"
    if span_id is not None and not (isinstance(span_id, str) and is_span_id(span_id)):
        return "`span_id` must be 16 lowercase hex characters"
    return ItemTarget(trace_id, span_id)


def add_targets(
    connection: Connection, project: str, queue: str, items: Sequence[Any], now: datetime
) -> list[dict[str, Any]]:
    """Queue hand-added items: each `created`, `duplicate` (already queued) or `rejected`."""
    targets = [_target(connection, project, raw) for raw in items]
    added = set(
        add_items(connection, project, queue, [t for t in targets if not isinstance(t, str)], now)
    )
    results: list[dict[str, Any]] = []
    for index, target in enumerate(targets):
        if isinstance(target, str):
            pointer = f"/items/{index}"
            error = {"detail": target, "errors": [{"pointer": pointer, "detail": target}]}
            results.append({"id": None, "status": "rejected", "error": error})
        else:
            status = "created" if target.item_id in added else "duplicate"
            added.discard(target.item_id)
            results.append({"id": target.item_id, "status": status})
    return results
