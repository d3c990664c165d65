"""Start-up linking: feedback still `pending` when the server starts is linked to whatever target
(span, provider response id, trace or conversation) is stored by then, on both stores.

A span can reach the database without linking the feedback that waits for it: on PostgreSQL, two
servers' transactions overlap and neither sees the other's row. The test plays that part by
writing the spans straight into the table while the server is stopped.
"""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import insert

from plaudit.settings import Settings
from plaudit.store.database import create_database_engine
from plaudit.store.schema import spans
from tests.conftest import free_port, make_tokens, serving


@contextmanager
def client_of(database_url: str, token: str) -> Iterator[httpx.Client]:
    """An admin client of a server started over `database_url`, stopped after the block."""
    headers = {"authorization": f"Bearer {token}"}
    with (
        serving(Settings(database_url=database_url, port=free_port())) as url,
        httpx.Client(base_url=url, headers=headers) as client,
    ):
        yield client


def span_row(trace_id: str, span_id: str, conversation_id: str, response_id: str) -> dict[str, Any]:
    return {
        "project": "default", "trace_id": trace_id, "span_id": span_id, "parent_span_id": None,
        "name": "chat", "kind": "internal", "start_time_ns": 1, "end_time_ns": 2,
        "status_code": "unset", "status_message": "", "attributes": {}, "events": [],
        "links": [], "resource": {}, "scope": {}, "capability": "support", "step": "respond",
        "conversation_id": conversation_id, "user_id": None, "received_at": datetime.now(UTC),
        "response_id": response_id,
    }  # fmt: skip


def store_spans_without_linking(database_url: str, rows: list[dict[str, Any]]) -> None:
    engine = create_database_engine(database_url)
    with engine.begin() as connection:
        connection.execute(insert(spans), rows)
    engine.dispose()


def statuses(client: httpx.Client, ids: dict[str, str]) -> dict[str, str]:
    return {kind: client.get(f"/v1/feedback/{i}").json()["link_status"] for kind, i in ids.items()}


def test_start_links_pending_feedback_about_spans_traces_and_conversations(
    database_url: str,
) -> None:
    token = make_tokens(database_url)[0]
    # One trace per target, so no event is linked only because another names the same trace.
    targets = {
        kind: (secrets.token_hex(16), secrets.token_hex(8), secrets.token_hex(6),
               f"chatcmpl-{secrets.token_hex(6)}")
        for kind in ("span", "response", "trace", "conversation")
    }  # fmt: skip
    ids = {kind: f"{kind}-{secrets.token_hex(4)}" for kind in targets}
    events = [
        {"id": ids["span"], "name": "q", "span_id": targets["span"][1], "value": 1},
        {"id": ids["response"], "name": "q", "response_id": targets["response"][3], "value": 1},
        {"id": ids["trace"], "name": "q", "trace_id": targets["trace"][0], "value": 1},
        {"id": ids["conversation"], "name": "q", "conversation_id": targets["conversation"][2],
         "value": 1},
    ]  # fmt: skip
    with client_of(database_url, token) as client:
        assert client.post("/v1/feedback", json={"feedback": events}).status_code == 200
        assert set(statuses(client, ids).values()) == {"pending"}

    store_spans_without_linking(database_url, [span_row(*target) for target in targets.values()])

    with client_of(database_url, token) as client:
        assert statuses(client, ids) == dict.fromkeys(ids, "linked")
        by_span = client.get(f"/v1/feedback/{ids['span']}").json()
        assert (by_span["trace_id"], by_span["capability"], by_span["step"]) == (
            targets["span"][0], "support", "respond",
        ), "what the span knows is filled in, as when the span arrives while serving"  # fmt: skip
        by_response = client.get(f"/v1/feedback/{ids['response']}").json()
        assert (by_response["trace_id"], by_response["span_id"]) == targets["response"][:2]
