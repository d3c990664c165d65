"""The traces list, conversation and user pages and the exports over HTTP, on SQLite and PostgreSQL.

A real server on loopback; spans arrive as OTLP JSON, feedback through `/v1/feedback`, and the
console is used through its sign-in form, as a browser would.
"""

import csv
import io
import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from plaudit.core.times import rfc3339
from tests.conftest import LiveServer

SPANS_PER_TRACE = 2
TRACES = 55  # more than a page (50)


def _attribute(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


@dataclass
class Story:
    """What the module sent: trace ids oldest first, and names that belong to this run."""

    traces: list[str]
    conversation: str
    user: str
    capability: str
    lone_trace: str


def _spans(trace_id: str, index: int, story_start: int, tag: str) -> list[dict[str, Any]]:
    start = story_start + index * 1_000_000_000
    took = (index + 1) * 10_000_000  # later traces take longer
    root = f"{index + 1:016x}"
    attributes = [
        _attribute("plaudit.capability", f"cap-{tag}"),
        _attribute("gen_ai.conversation.id", f"conv-{tag}-{index // 5}"),
        _attribute("enduser.id", f"user-{tag}-{index % 3}"),
    ]
    return [
        {"traceId": trace_id, "spanId": root, "name": f"POST /chat {index}", "kind": 2,
         "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + took),
         "attributes": attributes, "status": {"code": 2 if index == 7 else 1}},
        {"traceId": trace_id, "spanId": f"{index + 1:08x}{'f' * 8}", "parentSpanId": root,
         "name": "chat gpt-4o", "kind": 3, "startTimeUnixNano": str(start + 1000),
         "endTimeUnixNano": str(start + took - 1000), "attributes": attributes},
    ]  # fmt: skip


def _send_spans(client: httpx.Client, spans: list[dict[str, Any]], service: str) -> None:
    body = {"resourceSpans": [{
        "resource": {"attributes": [_attribute("service.name", service)]},
        "scopeSpans": [{"scope": {"name": "tests"}, "spans": spans}],
    }]}  # fmt: skip
    answer = client.post("/v1/traces", json=body)
    assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def story(live_server: LiveServer) -> Story:
    tag = secrets.token_hex(3)
    now = time.time_ns()
    story_start = now - (TRACES + 10) * 1_000_000_000
    traces = [secrets.token_hex(16) for _ in range(TRACES)]
    with live_server.client() as client:
        thumb = {"name": "response-quality", "kind": "thumb"}
        assert client.put("/v1/feedback-configs/response-quality", json=thumb).status_code < 300
        spans = [s for i, t in enumerate(traces) for s in _spans(t, i, story_start, tag)]
        _send_spans(client, spans, f"svc-{tag}")
        lone = secrets.token_hex(16)
        single = _spans(lone, 99, story_start, tag)[:1]
        single[0]["attributes"] = []
        _send_spans(client, single, f"lone-{tag}")
        events = []
        for i, trace_id in enumerate(traces):
            value = 1 if i % 2 else -1
            # Timed like their traces: a search ranks traces by their newest matching event, so
            # events sent in one request at one instant would rank the 55 traces at random.
            at = datetime.fromtimestamp((story_start + i * 1_000_000_000) / 1e9, UTC)
            events.append({"id": f"{tag}-t{i}", "trace_id": trace_id, "span_id": f"{i + 1:016x}",
                           "name": "response-quality", "value": value, "timestamp": rfc3339(at),
                           "user_id": f"user-{tag}-{i % 3}",
                           "conversation_id": f"conv-{tag}-{i // 5}",
                           "comment": f"=cmd {tag}" if i == 3 else None})  # fmt: skip
        # Trace 10 is the most discussed: three more events.
        events += [{"id": f"{tag}-x{k}", "trace_id": traces[10], "span_id": f"{11:016x}",
                    "name": f"extra-{k}", "value": 4, "user_id": f"user-{tag}-1"}
                   for k in range(3)]  # fmt: skip
        events.append({"id": f"{tag}-free", "conversation_id": f"conv-{tag}-0",
                       "name": "resolved", "value": True, "user_id": f"user-{tag}-0"})  # fmt: skip
        answer = client.post("/v1/feedback", json={"feedback": events})
        assert answer.status_code in (200, 207), answer.text
    return Story(traces, f"conv-{tag}-0", f"user-{tag}-1", f"cap-{tag}", lone)


@pytest.fixture(scope="module")
def console(live_server: LiveServer, story: Story) -> Iterator[httpx.Client]:
    """A client signed in through the console's form."""
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        form = client.get("/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        signed = client.post(
            "/login", data={"csrf": csrf.group(1), "secret": live_server.admin_token, "next": "/"}
        )
        assert signed.status_code == 303
        yield client


def _trace_rows(html: str) -> list[str]:
    return re.findall(r'<tr data-trace="([0-9a-f]{32})"', html)


def test_traces_list_newest_first_with_paging(console: httpx.Client, story: Story) -> None:
    q = f'capability = "{story.capability}"'
    first = console.get("/traces", params={"q": q, "since": "1h"})
    assert first.status_code == 200
    ids = _trace_rows(first.text)
    # Feedback on every trace: the search finds them all, newest match first.
    assert len(ids) == 50 and set(ids) <= set(story.traces)
    more = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert more is not None
    second = console.get(more.group(1).replace("&amp;", "&"))
    rest = _trace_rows(second.text)
    assert sorted(ids + rest) == sorted(story.traces)


def test_without_a_search_the_list_is_root_spans_by_start(
    console: httpx.Client, story: Story
) -> None:
    listed = console.get("/traces", params={"since": "1h"}).text
    mine = [t for t in _trace_rows(listed) if t in story.traces or t == story.lone_trace]
    assert mine[:3] == [story.lone_trace, story.traces[-1], story.traces[-2]]
    assert "svc-" in listed and "POST /chat" in listed


def test_sorts_by_duration_and_by_feedback(console: httpx.Client, story: Story) -> None:
    q = f'capability = "{story.capability}"'
    longest = _trace_rows(console.get("/traces", params={"q": q, "sort": "duration"}).text)
    assert longest[:3] == story.traces[::-1][:3]
    discussed = console.get("/traces", params={"q": q, "sort": "feedback"}).text
    assert _trace_rows(discussed)[0] == story.traces[10]
    assert "Sorted among the newest" in discussed
    unsearched = _trace_rows(console.get("/traces", params={"sort": "feedback"}).text)
    assert unsearched[0] == story.traces[10]


def test_a_trace_line_reads_right(console: httpx.Client, story: Story) -> None:
    q = f'capability = "{story.capability}"'
    html = console.get("/traces", params={"q": q}).text
    assert "2 spans" in html and "1 spans" not in html
    assert "1 feedback: 1 good" in html and "1 feedback: 1 bad" in html
    assert f'href="/conversations/conv-{story.capability[4:]}-1"' in html  # traces 5-9
    assert f'href="/users/{story.user}"' in html
    assert "Error" in html  # trace 7's root failed


def test_bad_input_is_said_not_raised(console: httpx.Client) -> None:
    wrong = [{"after": "zz"}, {"after": "9" * 30 + ".x"}, {"page": "99999", "sort": "duration"},
             {"q": "feedback.x = "}, {"since": "yesterday"}, {"sort": "nonsense"}]  # fmt: skip
    for params in wrong:
        answer = console.get("/traces", params=params)
        assert answer.status_code == 200, (params, answer.status_code)
    assert 'role="alert"' in console.get("/traces", params={"q": "nonsense ="}).text
    assert console.get("/users/" + "u" * 300).status_code == 404
    assert console.get("/conversations/nobody-talked-here").status_code == 404
    problem = console.get("/feedback.csv", params={"since": "yesterday"})
    assert problem.status_code == 400
    assert problem.headers["content-type"].startswith("application/problem+json")


def test_a_conversation_lists_its_traces_in_order_with_their_feedback(
    console: httpx.Client, story: Story
) -> None:
    answer = console.get(f"/conversations/{story.conversation}")
    assert answer.status_code == 200
    html = answer.text
    assert _ordered(html, [f'data-trace="{t}"' for t in story.traces[:5]])
    assert f'data-trace="{story.traces[5]}"' not in html
    assert html.count('class="mark tone-bad"') >= 3 and 'class="mark tone-good"' in html
    assert "thumbs down" in html and "thumbs up" in html  # said in words, not only ▲▼
    assert "Feedback on the conversation, not on one trace" in html


def _ordered(html: str, markers: list[str]) -> bool:
    positions = [html.find(m) for m in markers]
    return all(p >= 0 for p in positions) and positions == sorted(positions)


def test_a_user_page_lists_their_conversations_and_feedback(
    console: httpx.Client, story: Story
) -> None:
    html = console.get(f"/users/{story.user}").text
    tag = story.capability[4:]
    for conversation in {f"conv-{tag}-{i // 5}" for i in range(TRACES) if i % 3 == 1}:
        assert f'href="/conversations/{conversation}"' in html
    assert html.count('<tr><td class="time">') == len([i for i in range(TRACES) if i % 3 == 1]) + 3
    recent = console.get(
        f"/users/{story.user}", params={"since": "2000-01-01", "until": "2000-01-02"}
    )
    assert "No feedback from this user in this range." in recent.text


def test_the_explorer_exports_what_it_filters_as_csv_and_ndjson(
    console: httpx.Client, story: Story
) -> None:
    params = {"user": story.user, "name": "response-quality"}
    answer = console.get("/feedback.csv", params=params)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    want = {f"{story.capability[4:]}-t{i}" for i in range(TRACES) if i % 3 == 1}
    assert {r["id"] for r in rows} == want
    lines = console.get("/feedback.ndjson", params=params).text.splitlines()
    assert {json.loads(line)["id"] for line in lines} == want
    # A comment that looks like a formula is neutralised, as in the API's export.
    tagged = console.get("/feedback.csv", params={"text": f"cmd {story.capability[4:]}"}).text
    assert "'=cmd" in tagged


def test_the_query_answer_exports(console: httpx.Client, story: Story) -> None:
    q = f'count by name where capability = "{story.capability}"'
    table = console.get("/query.csv", params={"q": q})
    assert table.status_code == 200
    assert next(csv.reader(io.StringIO(table.text))) == ["name", "count"]
    lines = [
        json.loads(line) for line in console.get("/query.ndjson", params={"q": q}).text.splitlines()
    ]
    assert {"name": "response-quality", "count": TRACES} in lines
    assert console.get("/query.csv", params={"q": "count by"}).status_code == 400


def test_the_trace_page_shows_its_resource_and_counts_spans_right(
    console: httpx.Client, story: Story
) -> None:
    html = console.get(f"/traces/{story.lone_trace}").text
    assert "1 span ·" in html and "service.name" in html and "lone-" in html
    full = console.get(f"/traces/{story.traces[10]}").text
    assert "2 spans ·" in full
    # A 👎, and three 4s of a name without a declared range: neither good nor bad.
    assert full.count('class="badge tone-bad"') == 1
    assert full.count('class="badge tone-neutral"') == 3


def test_pages_need_a_session(live_server: LiveServer) -> None:
    for path in ("/traces", "/conversations/x", "/users/x", "/feedback.csv", "/query.csv?q=count"):
        answer = httpx.get(live_server.url + path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_the_explorer_filters_by_conversation_and_links_to_it(
    console: httpx.Client, story: Story
) -> None:
    html = console.get("/feedback", params={"conversation": story.conversation}).text
    ids = set(re.findall(r'<tr data-event="([^"]+)"', html))
    tag = story.capability[4:]
    assert ids == {f"{tag}-t{i}" for i in range(5)} | {f"{tag}-free"}
    assert f'href="/conversations/{story.conversation}"' in html
    assert f'name="conversation" value="{story.conversation}"' in html  # kept when filtering
