"""Feedback that names the provider's response id (`gen_ai.response.id`, e.g. `chatcmpl-…`)
lands on the span that carries it, whichever arrives first (both stores)."""

from pathlib import Path
from typing import Any

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from sqlalchemy import create_engine, text

from plaudit.store.migrate import upgrade
from tests.conftest import LiveServer, fresh_database


def export_chat_span(
    live_server: LiveServer, response_id: str, more: dict[str, str] | None = None
) -> tuple[str, str]:
    """A span made and exported by the OpenTelemetry SDK, as an instrumented app would."""
    exporter = OTLPSpanExporter(
        endpoint=f"{live_server.url}/v1/traces",
        headers={"authorization": f"Bearer {live_server.otlp_token}"},
    )
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    attributes = {
        "gen_ai.response.id": response_id, "plaudit.capability": "support-agent", **(more or {}),
    }  # fmt: skip
    with provider.get_tracer("tests").start_as_current_span("chat", attributes=attributes) as span:
        context = span.get_span_context()
    provider.shutdown()
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def vote(event_id: str, response_id: str) -> dict[str, Any]:
    return {"id": event_id, "name": "response-quality", "response_id": response_id, "value": -1}


def test_feedback_before_its_span_waits_then_links(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    response_id = f"chatcmpl-{unique}"
    assert api.post("/v1/feedback", json=vote(f"early-{unique}", response_id)).status_code == 200
    early = api.get(f"/v1/feedback/early-{unique}").json()
    assert (early["link_status"], early["span_id"], early["response_id"]) == (
        "pending", None, response_id,
    )  # fmt: skip
    trace_id, span_id = export_chat_span(live_server, response_id)
    linked = api.get(f"/v1/feedback/early-{unique}").json()
    assert linked["link_status"] == "linked"
    assert (linked["trace_id"], linked["span_id"]) == (trace_id, span_id)
    assert linked["capability"] == "support-agent"
    tree = api.get(f"/v1/traces/{trace_id}").json()
    assert [f["id"] for f in tree["spans"][0]["feedback"]] == [f"early-{unique}"]


def test_feedback_after_its_span_links_at_once(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    response_id = f"chatcmpl-late-{unique}"
    trace_id, span_id = export_chat_span(live_server, response_id)
    export_chat_span(live_server, f"chatcmpl-other-{unique}")  # another span of its own
    event = vote(f"late-{unique}", response_id)
    assert api.post("/v1/feedback", json=event).json()["results"][0]["status"] == "created"
    assert api.post("/v1/feedback", json=event).json()["results"][0]["status"] == "duplicate"
    stored = api.get(f"/v1/feedback/late-{unique}").json()
    assert (stored["link_status"], stored["trace_id"], stored["span_id"]) == (
        "linked", trace_id, span_id,
    )  # fmt: skip


def test_a_response_id_alone_is_a_target_and_is_checked(api: httpx.Client) -> None:
    empty = api.post("/v1/feedback", json={"name": "q", "response_id": "", "value": 1})
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["pointer"] == "/response_id"
    long = api.post("/v1/feedback", json={"name": "q", "response_id": "r" * 257, "value": 1})
    assert long.status_code == 422
    assert long.json()["errors"][0]["pointer"] == "/response_id"
    none = api.post("/v1/feedback", json={"name": "q", "value": 1})
    assert "response_id" in none.json()["errors"][0]["detail"]


def test_spans_stored_before_the_migration_get_their_response_id(
    dialect: str, tmp_path: Path
) -> None:
    with fresh_database(dialect, tmp_path) as url:
        spans_of_an_older_version(url)


def spans_of_an_older_version(database_url: str) -> None:
    engine = create_engine(database_url)
    upgrade(engine, "0008")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO spans (project, trace_id, span_id, name, kind, start_time_ns, "
                "end_time_ns, status_code, status_message, attributes, events, links, resource, "
                "scope, received_at) VALUES ('old', :t, :s, 'chat', 'internal', 1, 2, 'unset', '',"
                " :a, '[]', '[]', '{}', '{}', 0)"
            ),
            {"t": "1" * 32, "s": "2" * 16, "a": '{"gen_ai.response.id": "chatcmpl-old"}'},
        )
    upgrade(engine)
    with engine.connect() as connection:
        found = connection.execute(text("SELECT response_id FROM spans WHERE project = 'old'"))
        assert found.scalar_one() == "chatcmpl-old"
    engine.dispose()


def test_feedback_after_its_span_takes_its_facts_and_links_by_trace_or_conversation(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    conversation = f"conv-{unique}"
    more = {"plaudit.step": "respond", "gen_ai.conversation.id": conversation}
    trace_id, span_id = export_chat_span(live_server, f"chatcmpl-facts-{unique}", more)
    unknown_trace = "f" * 31 + "1"
    events = {
        "bare": {"span_id": span_id},
        "own": {"span_id": span_id, "capability": "mine", "step": "my-step"},
        "trace": {"trace_id": trace_id},
        "conversation": {"conversation_id": conversation},
        "conversation, unknown trace": {"conversation_id": conversation, "trace_id": unknown_trace},
    }
    batch = [
        {"id": f"{kind}-{unique}".replace(", ", "-").replace(" ", "-"), "name": "q", "value": 1,
         **target}
        for kind, target in events.items()
    ]  # fmt: skip
    for event in batch:  # one request each: no event is linked by what another one named
        assert api.post("/v1/feedback", json=event).json()["results"][0]["status"] == "created"
    stored = {
        kind: api.get(f"/v1/feedback/{event['id']}").json()
        for kind, event in zip(events, batch, strict=True)
    }
    assert {kind: event["link_status"] for kind, event in stored.items()} == {
        "bare": "linked", "own": "linked", "trace": "linked", "conversation": "linked",
        "conversation, unknown trace": "pending",  # the trace named decides, and is not stored
    }  # fmt: skip
    bare, own = stored["bare"], stored["own"]
    assert (bare["trace_id"], bare["capability"], bare["step"]) == (
        trace_id, "support-agent", "respond",
    ), "what the span knows is filled in"  # fmt: skip
    assert (own["capability"], own["step"]) == ("mine", "my-step"), "what the event says is kept"
