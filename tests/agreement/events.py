"""Feedback for agreement tests, sent through the real API."""

from typing import Any

import httpx

BASE = "2026-01-10T10:00:00Z"


def event(
    name: str,
    span: str,
    value: Any,
    kind: str,
    *,
    user: str | None = None,
    source: str = "end_user",
    at: str = BASE,
    capability: str | None = None,
    id: str | None = None,
) -> dict[str, Any]:
    """One event on span `span` (16 hex), with a trace id derived from it."""
    found: dict[str, Any] = {
        "trace_id": span * 2, "span_id": span, "name": name, "kind": kind, "value": value,
        "source": source, "timestamp": at,
    }  # fmt: skip
    if user is not None:
        found["user_id"] = user
    if capability is not None:
        found["capability"] = capability
    if id is not None:
        found["id"] = id
    return found


def send(api: httpx.Client, events: list[dict[str, Any]]) -> None:
    """Store `events` (in batches the API takes), failing on any rejection."""
    for start in range(0, len(events), 1000):
        answer = api.post("/v1/feedback", json={"feedback": events[start : start + 1000]})
        assert answer.status_code == 200, answer.text
        statuses = {r["status"] for r in answer.json()["results"]}
        assert statuses <= {"created", "duplicate", "revised"}, answer.text


def span_id(prefix: str, number: int) -> str:
    """A 16-hex span id unique to a test's `prefix` (8 hex) and a number."""
    return f"{prefix}{number:08x}"
