"""`POST /v1/query`, `GET /v1/traces` search and the streaming export, on a live server."""

import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import insert

from plaudit.analytics.export import PAGE
from plaudit.store.database import create_database_engine
from plaudit.store.schema import spans
from tests.conftest import LiveServer


@pytest.fixture(scope="module")
def server(live_server: LiveServer) -> LiveServer:
    return live_server


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


TRACES = [f"{i:032x}" for i in range(1, 4)]


@pytest.fixture(scope="module")
def loaded(server: LiveServer, client: httpx.Client) -> None:
    """Six events on three traces; trace 1's span is stored with a model attribute."""
    engine = create_database_engine(server.database_url)
    with engine.begin() as connection:
        connection.execute(insert(spans), [{
            "project": "default", "trace_id": TRACES[0], "span_id": "1" * 16, "name": "respond",
            "kind": "internal", "start_time_ns": 5_000, "end_time_ns": 6_000,
            "status_code": "unset", "status_message": "",
            "attributes": {"gen_ai.request.model": "gpt-x"},
            "events": [], "links": [], "resource": {}, "scope": {}, "received_at": 0,
        }])  # fmt: skip
    engine.dispose()
    events = [
        {"id": "q1", "trace_id": TRACES[0], "span_id": "1" * 16, "name": "rq", "value": "down",
         "user_id": "u1", "timestamp": "2026-03-01T10:00:00Z", "capability": "support"},
        {"id": "q2", "trace_id": TRACES[0], "span_id": "1" * 16, "name": "rq", "value": "up",
         "user_id": "u2", "timestamp": "2026-03-01T11:00:00Z", "capability": "support"},
        {"id": "q3", "trace_id": TRACES[1], "name": "rq", "kind": "thumb", "value": -1,
         "user_id": "u1", "timestamp": "2026-03-02T10:00:00Z", "capability": "search"},
        {"id": "q4", "trace_id": TRACES[2], "name": "category", "kind": "enum",
         "value": "hallucination", "timestamp": "2026-03-03T10:00:00Z", "capability": "search"},
        {"id": "q5", "trace_id": TRACES[2], "name": "stars", "value": 4,
         "comment": "good, \"quoted\"",
         "timestamp": "2026-03-03T11:00:00Z", "capability": "search", "metadata": {"plan": "pro"}},
        {"id": "q6", "trace_id": TRACES[1], "name": "stars", "value": 2,
         "timestamp": "2026-03-04T11:00:00Z", "capability": "search", "metadata": {"plan": "free"}},
    ]  # fmt: skip
    response = client.post("/v1/feedback", json={"feedback": events})
    assert response.status_code == 200, response.text


def test_text_query(client: httpx.Client, loaded: None) -> None:
    response = client.post(
        "/v1/query", json={"query": 'satisfaction, count, avg by capability where name = "rq"'}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "columns": [{"name": "capability", "type": "string"},
                    {"name": "satisfaction", "type": "number"},
                    {"name": "count", "type": "integer"}, {"name": "avg", "type": "number"}],
        "rows": [["search", 0.0, 1, -1.0], ["support", 0.5, 2, 0.0]],
    }  # fmt: skip


def test_structured_query_answers_the_same(client: httpx.Client, loaded: None) -> None:
    text = client.post(
        "/v1/query", json={"query": 'p95(value), count by metadata.plan, day where name = "stars"'}
    )
    structured = client.post("/v1/query", json={
        "metrics": ["p95(value)", "count"], "group_by": ["metadata.plan", "day"],
        "filters": [{"field": "name", "op": "=", "value": "stars"}],
    })  # fmt: skip
    assert structured.status_code == 200, structured.text
    assert structured.json() == text.json()
    assert text.json()["rows"] == [
        ["free", "2026-03-04T00:00:00Z", 2.0, 1],
        ["pro", "2026-03-03T00:00:00Z", 4.0, 1],
    ]


def test_per_span_weighs_each_span_once(client: httpx.Client, loaded: None) -> None:
    response = client.post("/v1/query", json={"query": 'count, avg where name = "rq" per span'})
    assert response.json()["rows"] == [[1, 0.0]]


def test_malformed_queries_answer_400_with_the_position(client: httpx.Client) -> None:
    response = client.post("/v1/query", json={"query": "count by capability wher name = 1"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert "position 20" in problem["detail"] and "expected" in problem["detail"]
    assert problem["errors"][0]["pointer"] == "/query"
    response = client.post("/v1/query", json={"metrics": ["count"], "group_by": ["nope"]})
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "/group_by/0"
    assert client.post("/v1/query", content=b"{").status_code == 400


def test_reading_needs_the_read_scope(server: LiveServer) -> None:
    with server.client(server.browser_token) as browser:
        assert browser.post("/v1/query", json={"query": "count"}).status_code == 403


def test_trace_search_by_feedback_newest_first_with_pages(
    client: httpx.Client, loaded: None
) -> None:
    first = client.get("/v1/traces", params={"q": "feedback.rq = -1", "limit": 1})
    assert first.status_code == 200, first.text
    assert first.json()["items"] == [{"trace_id": TRACES[1], "matched_at": "2026-03-02T10:00:00Z"}]
    second = client.get(
        "/v1/traces",
        params={"q": "feedback.rq = -1", "limit": 1, "cursor": first.json()["next_cursor"]},
    )
    assert [i["trace_id"] for i in second.json()["items"]] == [TRACES[0]]
    assert second.json()["next_cursor"] is None
    category = client.get("/v1/traces", params={"q": 'feedback.category = "hallucination"'})
    assert [i["trace_id"] for i in category.json()["items"]] == [TRACES[2]]
    both = client.get(
        "/v1/traces", params={"q": 'feedback.rq = -1 and span.gen_ai.request.model = "gpt-x"'}
    )
    assert [i["trace_id"] for i in both.json()["items"]] == [TRACES[0]]
    by_span = client.get("/v1/traces", params={"q": 'span.gen_ai.request.model = "gpt-x"'})
    assert [i["trace_id"] for i in by_span.json()["items"]] == [TRACES[0]]
    bad = client.get("/v1/traces", params={"q": "feedback.rq ="})
    assert bad.status_code == 400 and bad.json()["errors"][0]["pointer"] == "/q"


def _exported(
    client: httpx.Client, path: str, accept: str, params: dict[str, str]
) -> httpx.Response:
    return client.get(path, headers={"accept": accept}, params=params)


def test_streaming_export(client: httpx.Client, loaded: None) -> None:
    path = "/v1/feedback"
    ndjson = _exported(client, path, "application/x-ndjson", {"name": "stars"})
    assert ndjson.status_code == 200
    assert ndjson.headers["content-type"].startswith("application/x-ndjson")
    lines = [msgspec.json.decode(line) for line in ndjson.text.splitlines()]
    assert [e["id"] for e in lines] == ["q5", "q6"]
    table = _exported(client, path, "text/csv", {"name": "stars"})
    assert table.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert [(r["id"], r["value"], r["comment"]) for r in rows] == [
        ("q5", "4", 'good, "quoted"'),
        ("q6", "2", ""),
    ]


FORMULAS = ['=HYPERLINK("http://evil.example")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def test_csv_export_neutralises_formulas(client: httpx.Client) -> None:
    """A spreadsheet must not run what a user typed: formula-like text gets a leading `'`."""
    events = [
        {"id": f"f{i}", "trace_id": TRACES[0], "name": "formula", "value": text,
         "comment": text, "user_id": text, "tags": [text], "timestamp": "2026-04-01T00:00:00Z"}
        for i, text in enumerate(FORMULAS)
    ] + [{"id": "fn", "trace_id": TRACES[0], "name": "formula", "kind": "number", "value": -1.5,
          "scores": {"s": -2}, "timestamp": "2026-04-01T00:00:01Z"}]  # fmt: skip
    assert client.post("/v1/feedback", json={"feedback": events}).status_code == 200
    table = _exported(client, "/v1/feedback", "text/csv", {"name": "formula"})
    rows = list(csv.DictReader(io.StringIO(table.text, newline="")))
    texts = {r["id"]: r for r in rows}
    for i, text in enumerate(FORMULAS):
        row = texts[f"f{i}"]
        assert (row["value"], row["comment"], row["user_id"]) == ("'" + text,) * 3
    assert texts["fn"]["value"] == "-1.5"  # a number stays a number
    assert texts["fn"]["scores"] == '{"s":-2.0}'


class _Listing(msgspec.Struct):
    items: list[msgspec.Raw]


def test_ndjson_export_equals_the_listing_for_every_value_shape(client: httpx.Client) -> None:
    """The export copies stored JSON text out unread; each line must still be, byte for byte,
    the listing's item: same fields in the same order, numbers and times written alike."""
    shapes: list[Any] = ["up", -1, 0.125, 4, True, "hallucination", {"step": [1, {"b": None}]},
                         0.1 + 0.2, 1e300, 2**60 + 1]  # fmt: skip
    events = [
        {"id": f"shape-{i}", "trace_id": TRACES[1], "name": f"shape{i}", "value": value,
         "timestamp": f"2026-05-01T00:00:{i:02d}.{i}00001Z", "metadata": {"n": i, "s": "x"},
         "scores": {"r": 0.5 + i}, "tags": ["t"], "expected": {"a": i} if i % 2 else None,
         "comment": f"é\u2028\x01 \"{i}\" \\ </script>"}
        for i, value in enumerate(shapes)
    ] + [{"id": "shape-signal", "trace_id": TRACES[1], "name": "copy",
          "timestamp": "2026-05-01T00:00:19Z"}]  # fmt: skip
    answer = client.post("/v1/feedback", json={"feedback": events})
    assert answer.status_code == 200, answer.text
    params = {"since": "2026-05-01T00:00:00Z", "until": "2026-05-02T00:00:00Z"}
    listing = client.get("/v1/feedback", params={**params, "limit": 100})
    listed = [bytes(item) for item in msgspec.json.decode(listing.content, type=_Listing).items]
    exported = _exported(client, "/v1/feedback", "application/x-ndjson", params)
    lines = exported.content.splitlines()
    assert len(lines) == len(events)
    assert sorted(lines) == sorted(listed)


def test_an_export_of_many_pages_streams_every_event_once_in_order(client: httpx.Client) -> None:
    """Past one page (`PAGE`), while the next page is read as the last one is sent, and where
    many events share a time (the keyset's tie on the id)."""
    count = PAGE * 2 + 345
    events = [
        {"id": f"many-{i:05d}", "trace_id": TRACES[0], "name": "many", "value": i % 5,
         "kind": "number", "timestamp": f"2026-06-01T00:{i // 600:02d}:00Z"}
        for i in range(count)
    ]  # fmt: skip
    for start in range(0, count, 1_000):
        answer = client.post("/v1/feedback", json={"feedback": events[start : start + 1_000]})
        assert answer.status_code == 200, answer.text
    exported = _exported(client, "/v1/feedback", "application/x-ndjson", {"name": "many"})
    ids = [msgspec.json.decode(line)["id"] for line in exported.content.splitlines()]
    assert ids == [e["id"] for e in events]
    table = _exported(client, "/v1/feedback", "text/csv", {"name": "many"})
    assert [r["id"] for r in csv.DictReader(io.StringIO(table.text))] == ids
    newest = client.get("/v1/feedback", params={"name": "many", "limit": 1000})
    cursor, listed = newest.json()["next_cursor"], [e["id"] for e in newest.json()["items"]]
    while cursor is not None:
        page = client.get("/v1/feedback", params={"name": "many", "limit": 1000, "cursor": cursor})
        cursor = page.json()["next_cursor"]
        listed += [e["id"] for e in page.json()["items"]]
    assert listed == ids[::-1]


def test_a_client_that_stops_reading_an_export_leaves_the_server_serving(
    client: httpx.Client,
) -> None:
    events = [{"id": f"cut-{i:05d}", "trace_id": TRACES[0], "name": "cut",
               "timestamp": "2026-07-01T00:00:00Z"}
              for i in range(3_000)]  # fmt: skip
    for start in range(0, len(events), 1_000):
        answer = client.post("/v1/feedback", json={"feedback": events[start : start + 1_000]})
        assert answer.status_code == 200, answer.text
    for _ in range(3):
        headers = {"accept": "application/x-ndjson"}
        with client.stream("GET", "/v1/feedback", headers=headers, params={"name": "cut"}) as got:
            assert msgspec.json.decode(next(got.iter_lines()))["id"] == "cut-00000"
    assert client.get("/v1/feedback", params={"name": "cut", "limit": 1}).status_code == 200
