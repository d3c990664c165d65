"""Feedback of every kind, sent by the SDK, arrives stored and linked to its span."""

import asyncio
from typing import Any

import httpx

import plaudit.sdk as plaudit
from plaudit.sdk import AsyncClient, Client, Feedback, FeedbackRejected
from tests.conftest import LiveServer
from tests.sdk.conftest import Errors, wait_for

EVERY_KIND = [
    Feedback.thumb_up(name="quality", comment="spot on", user_id="u-1"),
    Feedback.thumb(name="quality-word", value="down", user_id="u-1"),
    Feedback.number(name="stars", value=4, scores={"relevance": 0.5, "accuracy": 0.9}),
    Feedback.bool(name="resolved", value=True, metadata={"plan": "pro"}),
    Feedback.text(name="note", value="too long", tags=["verbose"]),
    Feedback.enum(name="category", value="hallucination"),
    Feedback.signal(name="copied"),
    Feedback.correction(name="user_edit", value="Order 9 ships Monday.", expected="Monday"),
    Feedback.object(name="review", value={"step1": {"retry": True}, "edits": [{"value": 1}]}),
]


def stored(api: httpx.Client, event_id: str) -> dict[str, Any] | None:
    response = api.get(f"/v1/feedback/{event_id}")
    return response.json() if response.status_code == 200 else None


def test_every_kind_arrives_linked_to_its_span(
    live_server: LiveServer, api: httpx.Client, errors: Errors
) -> None:
    plaudit.init(url=live_server.url, token=live_server.admin_token, on_error=errors)
    with plaudit.span("respond", capability="support-agent", step="respond") as span:
        links = span.links()
    ids = [plaudit.send(links, feedback) for feedback in EVERY_KIND]
    assert all(ids) and len(set(ids)) == len(ids)
    assert plaudit.flush(timeout=20)

    def all_linked() -> list[dict[str, Any]] | None:
        events = [stored(api, str(event_id)) for event_id in ids]
        if all(e is not None and e["link_status"] == "linked" for e in events):
            return [e for e in events if e is not None]
        return None

    events = wait_for(all_linked)
    kinds = [e["kind"] for e in events]
    assert kinds == ["thumb", "thumb", "number", "bool", "text", "enum", "signal", "correction",
                     "object"]  # fmt: skip
    for event in events:
        assert (event["trace_id"], event["span_id"]) == (links["trace_id"], links["span_id"])
        assert (event["capability"], event["step"]) == ("support-agent", "respond")
    assert events[0]["value"] == 1 and events[0]["comment"] == "spot on"
    assert events[1]["value"] == -1
    assert events[2]["scores"] == {"relevance": 0.5, "accuracy": 0.9}
    assert events[3]["metadata"] == {"plan": "pro"}
    assert events[4]["tags"] == ["verbose"]
    assert events[6]["implicit"] is True
    assert events[7]["expected"] == "Monday"
    assert events[8]["value"]["step1"]["retry"] is True
    assert errors.items == []


def test_a_changed_vote_revises_instead_of_adding(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    client = Client(live_server.url, live_server.admin_token)
    links = {"trace_id": "ab" * 16, "span_id": unique * 2}
    first = client.send(links, Feedback.thumb_up(name="quality", user_id="u-9"))
    assert client.flush(timeout=20)
    second = client.send(links, Feedback.thumb_down(name="quality", user_id="u-9"))
    other_user = client.send(links, Feedback.thumb_up(name="quality", user_id="u-10"))
    assert client.flush(timeout=20)
    client.shutdown()

    assert first == second != other_user
    event = stored(api, str(first))
    assert event is not None
    assert event["value"] == -1 and event["revision"] == 2
    assert [h["content"]["value"] for h in event["history"]] == [1]


def test_a_traceparent_names_the_target(live_server: LiveServer, api: httpx.Client) -> None:
    client = Client(live_server.url, live_server.admin_token)
    event_id = client.send(
        f"00-{'cd' * 16}-{'12' * 8}-01", Feedback.signal(name="regenerated", id="regen-1")
    )
    assert event_id == "regen-1" and client.shutdown(timeout=20)
    event = stored(api, "regen-1")
    assert event is not None and event["span_id"] == "12" * 8


def test_refused_items_are_reported_not_raised(live_server: LiveServer, errors: Errors) -> None:
    client = Client(live_server.url, live_server.admin_token, on_error=errors)
    links = {"trace_id": "ef" * 16}
    client.send(links, Feedback.number(name="stars", value=3))
    client.send(links, {"name": "stars", "kind": "number", "value": "three"})
    assert client.shutdown(timeout=20)
    rejected = errors.of(FeedbackRejected)
    assert len(rejected) == 1 and "value" in str(rejected[0])


def test_async_client_sends_in_the_background(live_server: LiveServer, api: httpx.Client) -> None:
    async def app() -> str | None:
        async with AsyncClient(live_server.url, live_server.admin_token) as client:
            return await client.send(
                {"conversation_id": "conv-async"}, Feedback.enum(name="topic", value="billing")
            )

    event_id = asyncio.run(app())
    assert event_id is not None
    event = stored(api, event_id)
    assert event is not None and event["conversation_id"] == "conv-async"


def test_enrichment_merges_into_span_and_trace(
    live_server: LiveServer, api: httpx.Client, errors: Errors
) -> None:
    plaudit.init(url=live_server.url, token=live_server.admin_token, on_error=errors)
    with plaudit.span("respond", capability="support-agent") as span:
        plaudit.enrich_span(feedback={"review": {"ok": True}}, attributes={"plan": "pro"})
        plaudit.enrich_trace(feedback={"outcome": "resolved"}, tags=["escalated"])
        links = span.links()
    plaudit.enrich_span(feedback={"review": {"score": 2}}, span_id=links["span_id"], tags=["x"])
    assert plaudit.flush(timeout=20)

    def merged() -> dict[str, Any] | None:
        response = api.get(f"/v1/traces/{links['trace_id']}")
        if response.status_code != 200:
            return None
        body: dict[str, Any] = response.json()
        return body if body["spans"] and body["spans"][0]["tags"] == ["x"] else None

    trace = wait_for(merged)
    span_json = trace["spans"][0]
    assert span_json["enrichment"] == {"review": {"ok": True, "score": 2}}
    assert span_json["attributes"]["plan"] == "pro"
    assert trace["enrichment"] == {"outcome": "resolved"}
    assert trace["tags"] == ["escalated"]
    assert errors.items == []
