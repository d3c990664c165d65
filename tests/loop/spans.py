"""Spans stored through the real OTLP/HTTP receiver, and feedback through the real API."""

import secrets
import time
from typing import Any

import httpx

from tests.conftest import LiveServer

INPUT = '[{"role": "user", "parts": [{"type": "text", "content": "Where is my order?"}]}]'
OUTPUT = '[{"role": "assistant", "parts": [{"type": "text", "content": "It shipped."}]}]'


def _attribute(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": str(value)}}


def store_span(
    server: LiveServer,
    attributes: dict[str, Any] | None = None,
    trace_id: str | None = None,
    parent: str | None = None,
) -> tuple[str, str]:
    """Store one span (a `respond` step with GenAI messages by default); its (trace, span)."""
    trace_id = trace_id or secrets.token_hex(16)
    span_id = secrets.token_hex(8)
    now = time.time_ns()
    defaults = {
        "plaudit.capability": "support-agent",
        "plaudit.step": "respond",
        "gen_ai.input.messages": INPUT,
        "gen_ai.output.messages": OUTPUT,
    }
    # None removes a default attribute.
    attrs = {k: v for k, v in {**defaults, **(attributes or {})}.items() if v is not None}
    span: dict[str, Any] = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": "respond",
        "kind": 1,
        "startTimeUnixNano": str(now - 1_000_000),
        "endTimeUnixNano": str(now),
        "attributes": [_attribute(k, v) for k, v in attrs.items()],
    }
    if parent:
        span["parentSpanId"] = parent
    body = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [span]}]}]}
    with server.client(server.otlp_token) as client:
        response = client.post("/v1/traces", json=body)
    assert response.status_code == 200, response.text
    return trace_id, span_id


def send_feedback(api: httpx.Client, events: list[dict[str, Any]]) -> None:
    """Store feedback events, every one accepted."""
    results = api.post("/v1/feedback", json={"feedback": events}).json()["results"]
    assert all(r["status"] != "rejected" for r in results), results
