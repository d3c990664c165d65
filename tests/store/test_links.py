"""Which stored target a feedback event links to, looked up in bulk in a real database.

The rules, written here from the API's promise rather than read back from the code: a span id
decides alone (and must agree with a trace id given beside it); else a provider response id
names its span; else the trace; else the conversation. Only targets of the same project count.
"""

import secrets
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from plaudit.store.links import SpanFacts, known_targets
from plaudit.store.schema import spans


def new_span(project: str = "default", conversation: str | None = None) -> dict[str, Any]:
    return {
        "project": project, "trace_id": secrets.token_hex(16), "span_id": secrets.token_hex(8),
        "parent_span_id": None, "name": "chat", "kind": "internal", "start_time_ns": 1,
        "end_time_ns": 2, "status_code": "unset", "status_message": "", "attributes": {},
        "events": [], "links": [], "resource": {}, "scope": {},
        "capability": f"cap-{secrets.token_hex(2)}", "step": f"step-{secrets.token_hex(2)}",
        "conversation_id": conversation, "user_id": None, "received_at": datetime.now(UTC),
        "response_id": f"chatcmpl-{secrets.token_hex(6)}",
    }  # fmt: skip


@pytest.fixture(scope="module")
def stored(engine: Engine) -> dict[str, dict[str, Any]]:
    """Spans in the database: two of `default` (one in a conversation), one of another project,
    and a span of `default` that reuses another trace's span id (span ids are unique per trace
    only)."""
    rows = {
        "a": new_span(conversation=f"conv-{secrets.token_hex(4)}"),
        "b": new_span(),
        "elsewhere": new_span(project="other", conversation=f"conv-{secrets.token_hex(4)}"),
    }
    rows["twin"] = {**new_span(), "span_id": rows["b"]["span_id"]}
    with engine.begin() as connection:
        connection.execute(insert(spans), list(rows.values()))
    return rows


def resolve(engine: Engine, **target: str | None) -> SpanFacts | bool:
    """Look the one event's targets up as a batch does, then resolve it."""
    trace, span = target.get("trace_id"), target.get("span_id")
    conversation, response = target.get("conversation_id"), target.get("response_id")
    with engine.connect() as connection:
        known = known_targets(
            connection, "default", [span] if span else [], [trace] if trace else [],
            [conversation] if conversation else [], [response] if response else [],
        )  # fmt: skip
    return known.resolve(trace, span, conversation, response)


def facts(row: dict[str, Any], *, found_by_response: bool = False) -> SpanFacts:
    span_id = row["span_id"] if found_by_response else None
    return SpanFacts(row["trace_id"], row["capability"], row["step"], span_id)


def test_a_span_id_links_to_its_span_and_its_facts(
    engine: Engine, stored: dict[str, dict[str, Any]]
) -> None:
    a = stored["a"]
    assert resolve(engine, span_id=a["span_id"]) == facts(a)
    assert resolve(engine, span_id=a["span_id"], trace_id=a["trace_id"]) == facts(a)


def test_a_span_id_with_another_trace_does_not_link(
    engine: Engine, stored: dict[str, dict[str, Any]]
) -> None:
    a, b = stored["a"], stored["b"]
    assert resolve(engine, span_id=a["span_id"], trace_id=b["trace_id"]) is False
    # an unknown span does not fall back to its (stored) trace: the span id decides alone
    assert resolve(engine, span_id=secrets.token_hex(8), trace_id=a["trace_id"]) is False


def test_a_span_id_shared_by_two_traces_links_to_the_one_named(
    engine: Engine, stored: dict[str, dict[str, Any]]
) -> None:
    b, twin = stored["b"], stored["twin"]
    assert resolve(engine, span_id=b["span_id"], trace_id=b["trace_id"]) == facts(b)
    assert resolve(engine, span_id=b["span_id"], trace_id=twin["trace_id"]) == facts(twin)


def test_a_response_id_links_to_its_span(engine: Engine, stored: dict[str, dict[str, Any]]) -> None:
    a = stored["a"]
    found = resolve(engine, response_id=a["response_id"])
    assert found == facts(a, found_by_response=True)
    assert resolve(engine, response_id="chatcmpl-unknown", trace_id=a["trace_id"]) is False


def test_a_trace_then_a_conversation(engine: Engine, stored: dict[str, dict[str, Any]]) -> None:
    a, b = stored["a"], stored["b"]
    assert resolve(engine, trace_id=b["trace_id"]) is True
    assert resolve(engine, trace_id=secrets.token_hex(16)) is False
    assert resolve(engine, conversation_id=a["conversation_id"]) is True
    assert resolve(engine, conversation_id="conv-unknown") is False
    # a trace given decides before the conversation
    unknown_trace = secrets.token_hex(16)
    assert resolve(engine, trace_id=unknown_trace, conversation_id=a["conversation_id"]) is False
    assert resolve(engine) is False


def test_targets_of_another_project_do_not_count(
    engine: Engine, stored: dict[str, dict[str, Any]]
) -> None:
    elsewhere = stored["elsewhere"]
    assert resolve(engine, span_id=elsewhere["span_id"]) is False
    assert resolve(engine, response_id=elsewhere["response_id"]) is False
    assert resolve(engine, trace_id=elsewhere["trace_id"]) is False
    assert resolve(engine, conversation_id=elsewhere["conversation_id"]) is False


def test_many_targets_in_one_lookup(engine: Engine, stored: dict[str, dict[str, Any]]) -> None:
    a, b = stored["a"], stored["b"]
    with engine.connect() as connection:
        known = known_targets(
            connection, "default", [a["span_id"], b["span_id"], "f" * 16],
            [a["trace_id"], b["trace_id"]], [a["conversation_id"]],
            [a["response_id"], b["response_id"]],
        )  # fmt: skip
    assert known.traces == {a["trace_id"], b["trace_id"]}
    assert known.conversations == {a["conversation_id"]}
    assert set(known.responses) == {a["response_id"], b["response_id"]}
    # a span id alone that two traces share: either span is a right answer
    assert known.resolve(None, b["span_id"], None) in (facts(b), facts(stored["twin"]))
