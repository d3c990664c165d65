"""The demo project (`plaudit demo`, `plaudit serve --demo`) on SQLite and PostgreSQL."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from plaudit.demo import DemoSummary, load_demo
from plaudit.store.database import create_database_engine
from plaudit.store.schema import feedback, feedback_configs, feedback_history, spans, to_micros
from tests.conftest import fresh_database, make_tokens
from tests.e2e.test_durability import ServerProcess

KINDS = {"thumb", "number", "bool", "text", "enum", "signal", "correction", "object"}
CAPABILITIES = {"support-agent", "summarize", "sql-assistant", "code-review", "search"}


@pytest.fixture(scope="module")
def demo(database_url: str) -> DemoSummary:
    """The demo, loaded once into the module's fresh database."""
    return load_demo(database_url)


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_database_engine(database_url)
    yield engine
    engine.dispose()


def rows(engine: Engine, query: Any) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]


def snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every stored row the demo touches, in a stable order."""
    return {
        "feedback": rows(engine, select(feedback).order_by(feedback.c.id)),
        "history": rows(engine, select(feedback_history).order_by(feedback_history.c.seq)),
        "spans": rows(engine, select(spans).order_by(spans.c.trace_id, spans.c.span_id)),
        "configs": rows(engine, select(feedback_configs).order_by(feedback_configs.c.name)),
    }


def test_the_demo_has_traces_of_five_capabilities_over_two_weeks(
    demo: DemoSummary, engine: Engine
) -> None:
    assert demo.project == "default"
    assert demo.traces == 300
    stored = rows(engine, select(spans).where(spans.c.project == "default"))
    assert len(stored) == demo.spans
    assert len({s["trace_id"] for s in stored}) == 300
    assert {s["capability"] for s in stored} == CAPABILITIES

    anchor = demo.anchor
    assert abs(anchor - datetime.now(UTC)) < timedelta(minutes=5)
    starts = [datetime.fromtimestamp(s["start_time_ns"] / 1e9, UTC) for s in stored]
    assert min(starts) >= anchor - timedelta(days=14)
    assert max(starts) < anchor
    assert (max(starts) - min(starts)) > timedelta(days=12), "spread over the two weeks"

    steps = {(s["capability"], s["step"]) for s in stored if s["step"]}
    assert {("support-agent", "retrieve"), ("support-agent", "rerank"),
            ("support-agent", "respond"), ("sql-assistant", "plan"),
            ("sql-assistant", "generate"), ("summarize", "summarize")} <= steps  # fmt: skip

    chats = [s for s in stored if s["attributes"].get("gen_ai.operation.name") == "chat"]
    assert len(chats) >= 300
    for span in chats:
        attributes = span["attributes"]
        assert attributes["gen_ai.provider.name"] in {"openai", "anthropic"}
        assert attributes["gen_ai.usage.input_tokens"] > 0
        assert attributes["gen_ai.usage.output_tokens"] > 0
        assert isinstance(attributes["gen_ai.input.messages"], str)
        assert '"role": "assistant"' in attributes["gen_ai.output.messages"]
        assert span["conversation_id"] == attributes["gen_ai.conversation.id"]
        assert span["user_id"] == attributes["enduser.id"]
        assert 100 <= (span["end_time_ns"] - span["start_time_ns"]) / 1e6 <= 15_000
    roots = [s for s in stored if s["parent_span_id"] is None]
    assert len(roots) == 300
    by_id = {(s["trace_id"], s["span_id"]): s for s in stored}
    for span in stored:
        if span["parent_span_id"] is not None:
            parent = by_id[(span["trace_id"], span["parent_span_id"])]
            assert parent["start_time_ns"] <= span["start_time_ns"] <= span["end_time_ns"]
            assert span["end_time_ns"] <= parent["end_time_ns"]
    conversations: dict[str, set[str]] = {}
    for root in roots:
        conversations.setdefault(root["conversation_id"], set()).add(root["trace_id"])
    assert max(len(traces) for traces in conversations.values()) >= 3


def test_the_demo_has_feedback_of_every_kind_and_source(demo: DemoSummary, engine: Engine) -> None:
    events = rows(engine, select(feedback).where(feedback.c.project == "default"))
    assert len(events) == demo.feedback >= 400
    assert demo.created == demo.feedback and demo.revised == 4 and demo.duplicate == 0
    assert {e["kind"] for e in events} == KINDS
    assert {e["source"] for e in events} == {"end_user", "evaluator", "annotator"}
    names = {e["name"] for e in events}
    assert {"response-quality", "star-rating", "issue-category", "copy", "regenerate",
            "user_edit", "review", "resolved", "llm-judge", "root-cause"} <= names  # fmt: skip

    thumbs = [e for e in events if e["kind"] == "thumb"]
    assert {e["value"] for e in thumbs} == {1, -1}
    assert sum(1 for e in thumbs if e["comment"]) >= 20
    assert {e["value"] for e in events if e["name"] == "star-rating"} <= {1, 2, 3, 4, 5}
    assert {e["value"] for e in events if e["name"] == "issue-category"} == {
        "hallucination", "wrong-format", "too-slow", "off-topic"
    }  # fmt: skip
    signals = [e for e in events if e["kind"] == "signal"]
    assert all(e["implicit"] and e["value"] is None for e in signals)
    corrections = [e for e in events if e["kind"] == "correction"]
    assert corrections and all(e["expected"] and e["value"] for e in corrections)
    reviews = [e for e in events if e["kind"] == "object"]
    assert reviews and all(isinstance(e["value"]["accuracy"]["score"], int) for e in reviews)
    assert {type(e["value"]) for e in events if e["kind"] == "bool"} == {bool}
    judged = [e for e in events if e["source"] == "evaluator"]
    assert judged and all(set(e["scores"]) >= {"faithfulness", "relevance"} for e in judged)
    assert all(e["user_id"] is None for e in judged)
    annotated = [e for e in events if e["source"] == "annotator"]
    assert annotated and {e["user_id"] for e in annotated} <= {"reviewer-ana", "reviewer-jonas"}
    assert any(e["metadata"] and e["metadata"].get("plan") == "enterprise" for e in events)

    # several users on one span, kept apart
    users_per_span: dict[str, set[str]] = {}
    for e in thumbs:
        users_per_span.setdefault(e["span_id"], set()).add(e["user_id"])
    assert sum(1 for users in users_per_span.values() if len(users) > 1) >= 5


def test_demo_feedback_is_linked_to_its_spans_except_a_few_pending(
    demo: DemoSummary, engine: Engine
) -> None:
    events = rows(engine, select(feedback).where(feedback.c.project == "default"))
    stored = {
        s["span_id"]: s for s in rows(engine, select(spans).where(spans.c.project == "default"))
    }
    pending = [e for e in events if e["link_status"] == "pending"]
    assert len(pending) == demo.pending == 4
    assert all(e["span_id"] not in stored for e in pending)
    linked = [e for e in events if e["link_status"] == "linked"]
    assert len(linked) == len(events) - 4
    for event in linked:
        if event["span_id"] is not None:
            span = stored[event["span_id"]]
            assert span["trace_id"] == event["trace_id"]
            assert (event["capability"], event["step"]) == (span["capability"], span["step"])
            assert event["step"] is not None
    conversation_level = [e for e in linked if e["span_id"] is None]
    assert conversation_level and all(e["conversation_id"] for e in conversation_level)


def test_demo_revisions_keep_their_history(demo: DemoSummary, engine: Engine) -> None:
    history = rows(engine, select(feedback_history))
    assert len(history) == 4
    for past in history:
        assert past["operation"] == "revised" and past["content"]["value"] == 1
        current = rows(engine, select(feedback).where(feedback.c.id == past["feedback_id"]))[0]
        assert current["revision"] == 2 and current["value"] == -1


def satisfaction(engine: Engine, capability: str, since: datetime | None, until: datetime) -> float:
    query = select(func.avg(feedback.c.value_num)).where(
        feedback.c.name == "response-quality",
        feedback.c.capability == capability,
        feedback.c.timestamp < to_micros(until),
    )
    if since is not None:
        query = query.where(feedback.c.timestamp >= to_micros(since))
    with engine.connect() as connection:
        mean = connection.scalar(query)
    assert mean is not None
    return (float(mean) + 1) / 2  # thumbs are ±1: the mean maps onto up/(up+down)


def test_the_demo_tells_a_story(demo: DemoSummary, engine: Engine) -> None:
    release = demo.anchor - timedelta(days=5)
    overall = {c: satisfaction(engine, c, None, demo.anchor) for c in CAPABILITIES}
    assert max(overall.values()) - min(overall.values()) > 0.15, overall
    before = satisfaction(engine, "support-agent", None, release)
    after = satisfaction(engine, "support-agent", release, demo.anchor)
    assert before - after > 0.2, (before, after)
    for capability in ("summarize", "search"):
        steady = satisfaction(engine, capability, None, release) - satisfaction(
            engine, capability, release, demo.anchor
        )
        assert abs(steady) < 0.12, (capability, steady)
    models = {
        s["attributes"]["gen_ai.request.model"]
        for s in rows(engine, select(spans).where(spans.c.step == "respond"))
    }
    assert models == {"gpt-4.1", "gpt-4.1-mini"}, "the release switched the model"


def test_loading_the_demo_again_changes_nothing(demo: DemoSummary, engine: Engine) -> None:
    before = snapshot(engine)
    again = load_demo(engine.url.render_as_string(hide_password=False))
    assert again.created == again.revised == 0
    assert again.duplicate == demo.created + demo.revised
    assert again.anchor == demo.anchor
    assert snapshot(engine) == before


@pytest.fixture
def fresh_database_url(dialect: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database of the dialect, for a server to load the demo into itself."""
    with fresh_database(dialect, tmp_path) as url:
        yield url


@pytest.fixture
def processes() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.kill()


def all_feedback(client: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/feedback", params=params)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


def find_span(spans_: list[dict[str, Any]], span_id: str) -> dict[str, Any] | None:
    for span in spans_:
        if span["span_id"] == span_id:
            return span
        found = find_span(span["children"], span_id)
        if found is not None:
            return found
    return None


def test_serve_demo_shows_the_demo_over_http(
    demo: DemoSummary,
    engine: Engine,
    fresh_database_url: str,
    processes: list[ServerProcess],
    tmp_path: Path,
) -> None:
    token = make_tokens(fresh_database_url)[0]
    server = ServerProcess(fresh_database_url, tmp_path / "serve-demo.log", "--demo")
    processes.append(server)
    server.start()
    with httpx.Client(
        base_url=server.url, headers={"authorization": f"Bearer {token}"}, timeout=10
    ) as client:
        served = all_feedback(client)
        assert len(served) == demo.feedback
        # the same ids as the demo loaded in-process: they are stable, not drawn per run
        loaded = rows(engine, select(feedback.c.id, feedback.c.span_id))
        assert {(e["id"], e["span_id"]) for e in served} == {
            (e["id"], e["span_id"]) for e in loaded
        }

        down = client.get(
            "/v1/feedback",
            params={"name": "response-quality", "capability": "support-agent", "limit": 50},
        ).json()["items"]
        event = next(e for e in down if e["value"] == -1 and e["comment"])
        assert event["link_status"] == "linked" and event["step"] == "respond"
        tree = client.get(f"/v1/traces/{event['trace_id']}")
        assert tree.status_code == 200
        (root,) = tree.json()["spans"]
        assert root["attributes"]["plaudit.capability"] == "support-agent"
        assert [c["attributes"]["plaudit.step"] for c in root["children"]] == [
            "retrieve", "rerank", "respond"
        ]  # fmt: skip
        respond = find_span(tree.json()["spans"], event["span_id"])
        assert respond is not None
        assert event["id"] in {f["id"] for f in respond["feedback"]}
        assert respond["attributes"]["gen_ai.operation.name"] == "chat"
        assert "gen_ai.input.messages" in respond["attributes"]

        detail = client.get(f"/v1/feedback/{event['id']}").json()
        assert detail["comment"] == event["comment"]
        revised = [e for e in served if e["revision"] == 2]
        assert len(revised) == 4
        history = client.get(f"/v1/feedback/{revised[0]['id']}").json()["history"]
        assert [h["content"]["value"] for h in history] == [1]
    server.terminate()

    # `plaudit demo` serves the same database without tokens (development mode) and adds nothing
    dev = ServerProcess(fresh_database_url, tmp_path / "demo.log", command="demo")
    processes.append(dev)
    dev.start()
    with httpx.Client(base_url=dev.url, timeout=10) as client:
        again = all_feedback(client)
    assert sorted((e["id"], e["revision"]) for e in again) == sorted(
        (e["id"], e["revision"]) for e in served
    )
