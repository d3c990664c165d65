"""PATCH enrichment of traces and spans: merged into their enrichment rows, never overwritten."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from plaudit.core.enrichment import deep_merge, merge_tags
from plaudit.store.feedback import StoreFeedback
from plaudit.store.schema import span_enrichments, trace_enrichments
from plaudit.store.writer import WriteOp


class Enrich(WriteOp[dict[str, Any]]):
    """Merge attributes, tags and a feedback document into a trace or span; record the event."""

    def __init__(
        self,
        project: str,
        target: str,
        target_id: str,
        attributes: dict[str, Any] | None,
        tags: list[str] | None,
        feedback: dict[str, Any] | None,
        record: StoreFeedback | None,
    ) -> None:
        """`record` stores the event that records the change (made, and screened, beforehand)."""
        self.project, self.target, self.target_id = project, target, target_id
        self.attributes, self.tags, self.feedback = attributes, tags, feedback
        self.record = record

    def apply(self, connection: Connection) -> dict[str, Any]:
        table = span_enrichments if self.target == "span" else trace_enrichments
        key = table.c.span_id if self.target == "span" else table.c.trace_id
        where = (table.c.project == self.project, key == self.target_id)
        row = connection.execute(select(table).where(*where)).mappings().first()
        current: dict[str, Any] = dict(row) if row is not None else {}
        now = datetime.now(UTC)
        merged = {
            "attributes": deep_merge(current.get("attributes"), self.attributes),
            "tags": merge_tags(current.get("tags"), self.tags),
            "feedback": deep_merge(current.get("feedback"), self.feedback),
            "updated_at": now,
        }
        if row is None:
            connection.execute(
                insert(table).values(project=self.project, **{key.name: self.target_id}, **merged)
            )
        else:
            connection.execute(update(table).where(*where).values(**merged))
        result: dict[str, Any] = {
            f"{self.target}_id": self.target_id,
            "attributes": merged["attributes"],
            "tags": merged["tags"],
            "feedback": merged["feedback"],
            "event": None,
        }
        if self.record is not None:
            status = self.record.apply(connection)
            result["event"] = {"id": self.record.events[0].id, "status": status[0]}
        return result
