"""POST/GET/DELETE /v1/feedback against a real server, on both stores."""

import httpx
import msgspec
from sqlalchemy import select

from plaudit.store.database import create_database_engine
from plaudit.store.schema import feedback_history
from tests.conftest import LiveServer

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def post(api: httpx.Client, body: object) -> httpx.Response:
    return api.post("/v1/feedback", json=body)


def test_created_then_duplicate_then_revised_with_history(api: httpx.Client, unique: str) -> None:
    event = {"id": f"e-{unique}", "name": "response-quality", "trace_id": TRACE, "value": "up"}
    assert post(api, event).json() == {"results": [{"id": f"e-{unique}", "status": "created"}]}
    assert post(api, event).json()["results"][0]["status"] == "duplicate"
    changed = {**event, "value": "down", "comment": "wrong answer"}
    assert post(api, changed).json()["results"][0]["status"] == "revised"

    stored = api.get(f"/v1/feedback/e-{unique}").json()
    assert stored["value"] == -1 and stored["kind"] == "thumb"
    assert stored["comment"] == "wrong answer"
    assert stored["revision"] == 2
    assert [h["content"]["value"] for h in stored["history"]] == [1]


def test_batch_rejects_only_bad_items(api: httpx.Client, unique: str) -> None:
    body = {
        "feedback": [
            {"id": f"a-{unique}", "name": "stars", "trace_id": TRACE, "value": 4},
            {"id": f"b-{unique}", "name": "stars", "trace_id": "xyz", "value": 4},
            {"id": f"c-{unique}", "name": "copied", "span_id": "00f067aa0ba902b7"},
        ]
    }
    results = post(api, body).json()["results"]
    assert [r["status"] for r in results] == ["created", "rejected", "created"]
    assert results[1]["error"]["errors"][0]["pointer"] == "/feedback/1/trace_id"
    copied = api.get(f"/v1/feedback/c-{unique}").json()
    assert copied["kind"] == "signal" and copied["implicit"] is True


def test_single_invalid_event_is_422_with_pointer(api: httpx.Client) -> None:
    response = post(api, {"name": "q", "trace_id": TRACE, "value": "sideways", "kind": "thumb"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["pointer"] == "/value"


def test_delete_keeps_history_and_is_refused_to_browser_tokens(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    event = {"id": f"d-{unique}", "name": "q", "trace_id": TRACE, "value": True}
    post(api, event)
    post(api, {**event, "value": False, "comment": "second thoughts"})
    with live_server.client(live_server.browser_token) as browser:
        assert browser.delete(f"/v1/feedback/d-{unique}").status_code == 403
    assert api.delete(f"/v1/feedback/d-{unique}").status_code == 204
    assert api.get(f"/v1/feedback/d-{unique}").status_code == 404
    assert api.delete(f"/v1/feedback/d-{unique}").status_code == 404

    # Read straight from the table: the API shows no history of an id that is gone.
    engine = create_database_engine(live_server.database_url)
    with engine.connect() as connection:
        kept = connection.execute(
            select(feedback_history.c.revision, feedback_history.c.operation,
                   feedback_history.c.content)
            .where(feedback_history.c.feedback_id == f"d-{unique}")
            .order_by(feedback_history.c.seq)
        ).all()  # fmt: skip
    engine.dispose()
    assert [(r, op, c["value"], c["comment"]) for r, op, c in kept] == [
        (1, "revised", True, None),
        (2, "deleted", False, "second thoughts"),
    ]


def history_of(api: httpx.Client, event_id: str) -> list[tuple[int, str, object]]:
    """(revision, operation, value) of each past version, newest first."""
    stored = api.get(f"/v1/feedback/{event_id}").json()
    return [(h["revision"], h["operation"], h["content"]["value"]) for h in stored["history"]]


def test_recreating_a_deleted_id_continues_its_revisions(api: httpx.Client, unique: str) -> None:
    event_id = f"r-{unique}"
    event = {"id": event_id, "name": "stars", "trace_id": TRACE, "value": 1}
    post(api, event)
    post(api, {**event, "value": 2})
    assert api.delete(f"/v1/feedback/{event_id}").status_code == 204

    assert post(api, {**event, "value": 3}).json()["results"][0]["status"] == "created"
    stored = api.get(f"/v1/feedback/{event_id}").json()
    assert (stored["revision"], stored["value"]) == (3, 3), "numbers never go backwards"
    assert history_of(api, event_id) == [(2, "deleted", 2), (1, "revised", 1)]

    post(api, {**event, "value": 4})
    assert api.get(f"/v1/feedback/{event_id}").json()["revision"] == 4
    assert history_of(api, event_id) == [(3, "revised", 3), (2, "deleted", 2), (1, "revised", 1)]


def test_list_filters_and_paginates(api: httpx.Client, unique: str) -> None:
    name = f"page-{unique}"
    events = [
        {"id": f"p{i}-{unique}", "name": name, "trace_id": TRACE, "value": i,
         "timestamp": f"2026-01-01T00:00:{i:02d}Z"}
        for i in range(7)
    ]  # fmt: skip
    post(api, {"feedback": events})
    seen: list[str] = []
    cursor = None
    while True:
        params = {"name": name, "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/feedback", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"p{i}-{unique}" for i in reversed(range(7))]
    since = api.get("/v1/feedback", params={"name": name, "since": "2026-01-01T00:00:05Z"})
    assert [i["value"] for i in since.json()["items"]] == [6, 5]


def test_beacon_body_carries_its_token(live_server: LiveServer, unique: str) -> None:
    body = msgspec.json.encode(
        {"token": live_server.browser_token, "id": f"beacon-{unique}", "name": "q",
         "trace_id": TRACE, "value": "up", "source": "annotator"}
    )  # fmt: skip
    response = httpx.post(
        f"{live_server.url}/v1/feedback", content=body, headers={"content-type": "text/plain"}
    )
    assert response.json()["results"][0]["status"] == "created"
    with live_server.client() as api:
        stored = api.get(f"/v1/feedback/beacon-{unique}").json()
    assert stored["source"] == "end_user"  # browser tokens always write end-user feedback


def _listed(api: httpx.Client, params: dict[str, str], accept: str | None = None) -> list[str]:
    headers = {"accept": accept} if accept else {}
    response = api.get("/v1/feedback", params=params, headers=headers)
    assert response.status_code == 200, response.text
    if accept == "application/x-ndjson":
        return sorted(msgspec.json.decode(line)["id"] for line in response.text.splitlines())
    return sorted(item["id"] for item in response.json()["items"])


def test_list_takes_every_query_field_and_q(api: httpx.Client, unique: str) -> None:
    name = f"f-{unique}"
    events = [
        {"id": f"f1-{unique}", "name": name, "trace_id": TRACE, "value": -1, "tags": ["esc"],
         "metadata": {"plan": "pro", "seats": 3}, "scores": {"relevance": 0.2}},
        {"id": f"f2-{unique}", "name": name, "trace_id": TRACE, "value": 1,
         "metadata": {"plan": "free"}, "scores": {"relevance": 0.9}},
        {"id": f"f3-{unique}", "name": name, "trace_id": TRACE, "value": "-1",
         "implicit": True, "user_id": "123"},
    ]  # fmt: skip
    assert post(api, {"feedback": events}).status_code == 200
    mine = {"name": name}
    assert _listed(api, {**mine, "value": "-1"}) == [f"f1-{unique}"]  # the number, not the text
    assert _listed(api, {**mine, "tags": "esc"}) == [f"f1-{unique}"]
    assert _listed(api, {**mine, "metadata.plan": "free"}) == [f"f2-{unique}"]
    assert _listed(api, {**mine, "metadata.seats": "3"}) == [f"f1-{unique}"]
    assert _listed(api, {**mine, "scores.relevance": "0.9"}) == [f"f2-{unique}"]
    assert _listed(api, {**mine, "implicit": "true"}) == [f"f3-{unique}"]
    assert _listed(api, {**mine, "user_id": "123"}) == [f"f3-{unique}"]  # text stays text
    assert _listed(api, {**mine, "q": 'value = "-1"'}) == [f"f3-{unique}"]
    ranged = {**mine, "q": 'scores.relevance < 0.5 and metadata.plan = "pro"'}
    assert _listed(api, ranged) == [f"f1-{unique}"]
    assert _listed(api, ranged, "application/x-ndjson") == [f"f1-{unique}"]  # exports too
    assert _listed(api, {**mine, "value": "7"}) == []


def test_list_refuses_parameters_it_does_not_know(api: httpx.Client) -> None:
    response = api.get("/v1/feedback", params={"valeu": "-1", "nmae": "x", "limit": "5"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert {e["pointer"] for e in problem["errors"]} == {"/valeu", "/nmae"}
    assert "valeu" in problem["detail"] and "nmae" in problem["detail"]
    for params in ({"implicit": "maybe"}, {"metadata": "x"}, {"value.a..b": "1"}):
        refused = api.get("/v1/feedback", params=params)
        assert refused.status_code == 422, (params, refused.text)
        assert refused.json()["errors"][0]["pointer"] == f"/{next(iter(params))}"
    malformed = api.get("/v1/feedback", params={"q": "value ="})
    assert malformed.status_code == 400 and malformed.json()["errors"][0]["pointer"] == "/q"


def test_one_id_twice_in_a_batch_is_created_then_revised(api: httpx.Client, unique: str) -> None:
    event_id = f"twice-{unique}"
    event = {"id": event_id, "name": "stars", "trace_id": TRACE, "value": 1}
    body = {"feedback": [event, {**event, "value": 2}, {**event, "value": 2}]}
    results = post(api, body).json()["results"]
    assert [r["status"] for r in results] == ["created", "revised", "duplicate"]
    stored = api.get(f"/v1/feedback/{event_id}").json()
    assert (stored["revision"], stored["value"]) == (2, 2)
    assert history_of(api, event_id) == [(1, "revised", 1)]
