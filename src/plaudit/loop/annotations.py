"""Completing an annotation queue item: the reviewer's answers become feedback on the
item's span (`source=annotator`, `user_id` = the reviewer), the item is done, and a dataset row
becomes `filled` (with a correction as its `expected`) — all in one transaction.

Each answer's feedback id is derived from the queue, the item and the feedback name, so
completing a done item again revises the same events instead of adding more.
"""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import msgspec
from sqlalchemy import Connection

from plaudit.core.configs import FeedbackConfig
from plaudit.core.datasets import Example
from plaudit.core.feedback import FeedbackEvent, Kind
from plaudit.core.validation import Issue, validate_feedback
from plaudit.errors import NotFound, ValidationFailed
from plaudit.store.annotation_queues import item_json, item_row, mark_done
from plaudit.store.datasets import Changes, apply_changes, current_contents
from plaudit.store.feedback import Status, StoreFeedback
from plaudit.store.writer import WriteOp


class Answer(msgspec.Struct, forbid_unknown_fields=True):
    """One answer of a reviewer: a configured feedback name and its value."""

    name: str
    value: Any = None
    comment: str | None = None


class Completion(msgspec.Struct, forbid_unknown_fields=True):
    """The body of `POST …/items/{id}/complete`."""

    feedback: Annotated[list[Answer], msgspec.Meta(max_length=100)]


def _event_id(queue: str, item_id: str, name: str) -> str:
    key = f"{queue}\0{item_id}\0{name}".encode()
    return "a-" + hashlib.blake2b(key, digest_size=16).hexdigest()


def answer_events(
    queue: Any,
    item: Any,
    answers: Sequence[Answer],
    reviewer: str,
    configs: Mapping[str, FeedbackConfig],
    now: datetime,
) -> list[FeedbackEvent]:
    """The feedback events of a completion, or a 422 naming each bad answer."""
    allowed = set(queue["feedback_names"])
    issues: list[Issue] = []
    events: list[FeedbackEvent] = []
    for index, answer in enumerate(answers):
        pointer = f"/feedback/{index}"
        if answer.name not in allowed:
            listed = ", ".join(sorted(allowed))
            issues.append(Issue(f"{pointer}/name", f"this queue asks for {listed}"))
            continue
        raw = _raw_event(queue, item, answer, reviewer, configs.get(answer.name))
        checked = validate_feedback(raw, pointer=pointer, now=now, configs=configs)
        if isinstance(checked, list):
            issues.extend(checked)
        else:
            events.append(checked)
    if issues:
        raise ValidationFailed("some answers are invalid", issues=issues)
    return events


def _raw_event(
    queue: Any, item: Any, answer: Answer, reviewer: str, config: FeedbackConfig | None
) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": _event_id(queue["name"], item["id"], answer.name),
        "name": answer.name,
        "source": "annotator",
        "user_id": reviewer,
        "metadata": {"annotation_queue": queue["name"], "item": item["id"]},
    }
    if item["trace_id"]:
        raw["trace_id"] = item["trace_id"]
    if item["span_id"]:
        raw["span_id"] = item["span_id"]
    if not (item["trace_id"] or item["span_id"]):
        # A dataset row with no span: the answers are checked as if on a span, and kept in the
        # row instead of stored as feedback (see CompleteItem).
        raw["trace_id"] = "f" * 32
    if answer.value is not None:
        raw["value"] = answer.value
    if answer.comment is not None:
        raw["comment"] = answer.comment
    if config is not None:
        raw["kind"] = config.kind.value
    return raw


@dataclass
class CompleteItem(WriteOp[dict[str, Any]]):
    """Store the answers, mark the item done, fill its dataset row (one transaction)."""

    project: str
    queue: str
    item_id: str
    reviewer: str
    record: StoreFeedback
    """The answers as feedback, made (and screened for PII) before the writer takes this."""
    now: datetime

    @property
    def events(self) -> Sequence[FeedbackEvent]:
        """The answers."""
        return self.record.events

    def apply(self, connection: Connection) -> dict[str, Any]:
        item = item_row(connection, self.project, self.queue, self.item_id)
        if item is None:
            raise NotFound(f"no item {self.item_id!r} in queue {self.queue!r}")
        statuses: list[Status] = []
        if self.events and (item["trace_id"] or item["span_id"]):
            statuses = self.record.apply(connection)
        done = mark_done(
            connection, self.project, self.queue, self.item_id, self.reviewer, self.now
        )
        answer: dict[str, Any] = {
            "item": item_json(done),
            "results": [
                {"id": e.id, "status": s} for e, s in zip(self.events, statuses, strict=True)
            ]
            if statuses
            else [],
        }
        if item["dataset"] is not None:
            answer["dataset_version"] = self._fill_row(connection, item)
        return answer

    def _fill_row(self, connection: Connection, item: Any) -> int | None:
        dataset, example_id = item["dataset"], item["example_id"]
        current = current_contents(connection, self.project, dataset, [example_id])
        if example_id not in current:
            return None
        content = {**current[example_id], "annotation_status": "filled"}
        screened = list(zip(self.events, self.record.stored_values, strict=True))
        corrections = [value for e, value in screened if e.kind is Kind.CORRECTION]
        if corrections:
            content["expected"] = corrections[-1]
        if not (item["trace_id"] or item["span_id"]):
            # No span to hold the answers as feedback: the row keeps them.
            answers = {e.name: value for e, value in screened}
            content["metadata"] = {**(content["metadata"] or {}), "annotations": answers}
        changes = Changes(upserts={example_id: Example(example_id, content)})
        return apply_changes(connection, self.project, dataset, changes, self.now).version
