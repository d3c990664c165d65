"""`/v1/annotation-queues` against a real server on both stores: fill from a saved filter (now and
as feedback arrives), hand-added items, holds, completion into feedback and dataset rows."""

import time

import httpx

from tests.conftest import LiveServer
from tests.loop.spans import send_feedback, store_span


def configure(api: httpx.Client, unique: str) -> tuple[str, str]:
    verdict, fix = f"verdict-{unique}", f"fix-{unique}"
    api.put(f"/v1/feedback-configs/{verdict}", json={"kind": "enum", "enum_values": ["ok", "bad"]})
    api.put(f"/v1/feedback-configs/{fix}", json={"kind": "correction"})
    return verdict, fix


def wait_for(check: object, seconds: float = 30.0) -> None:  # generous: CI machines are shared
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_fill_queues_matching_spans_now_and_as_feedback_arrives(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    verdict, fix = configure(api, unique)
    thumbs = f"thumbs-{unique}"
    trace, span = store_span(live_server)
    send_feedback(api, [{"name": thumbs, "trace_id": trace, "span_id": span, "value": "down"}])
    body = {
        "name": f"q-{unique}",
        "feedback_names": [verdict, fix],
        "instructions": "Is the answer right?",
        "fill": {"query": f'name = "{thumbs}" and value = -1'},
    }
    made = api.post("/v1/annotation-queues", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["counts"] == {"pending": 1, "done": 0}
    assert api.post("/v1/annotation-queues", json=body).status_code == 409

    later_trace, later_span = store_span(live_server)
    events = [
        {"name": thumbs, "trace_id": later_trace, "span_id": later_span, "value": "down"},
        {"name": thumbs, "trace_id": later_trace, "span_id": later_span, "value": "down",
         "user_id": "another"},
        {"name": thumbs, "trace_id": trace, "span_id": span, "value": "up", "user_id": "x"},
    ]  # fmt: skip
    send_feedback(api, events)

    def queued() -> list[str]:
        items = api.get(f"/v1/annotation-queues/q-{unique}/items").json()["items"]
        return sorted(i["id"] for i in items)

    wait_for(lambda: len(queued()) == 2)
    assert queued() == sorted([f"{trace}-{span}", f"{later_trace}-{later_span}"])
    # A barrier instead of a pause: a third span's feedback, sent after, is queued; a second
    # entry for either span would have been made by then.
    last_trace, last_span = store_span(live_server)
    send_feedback(api, [{"name": thumbs, "trace_id": last_trace, "span_id": last_span,
                         "value": "down"}])  # fmt: skip
    wait_for(lambda: len(queued()) >= 3)
    expected = [f"{trace}-{span}", f"{later_trace}-{later_span}", f"{last_trace}-{last_span}"]
    assert queued() == sorted(expected)  # once per span


def test_complete_stores_annotator_feedback_and_fills_the_dataset_row(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    verdict, fix = configure(api, unique)
    trace, span = store_span(live_server)
    api.post("/v1/datasets", json={"name": f"d-{unique}"})
    api.post(
        f"/v1/datasets/d-{unique}/examples",
        json={"from_trace": {"trace_id": trace, "span_id": span}},
    )
    queue = f"review-{unique}"
    api.post("/v1/annotation-queues", json={"name": queue, "feedback_names": [verdict, fix]})
    other_trace, other_span = store_span(live_server)
    added = api.post(
        f"/v1/annotation-queues/{queue}/items",
        json={"items": [
            {"dataset": f"d-{unique}", "example_id": f"{trace}-{span}"},
            {"trace_id": other_trace, "span_id": other_span},
            {"trace_id": other_trace, "span_id": other_span},
            {"trace_id": "nope"},
        ]},
    ).json()["results"]  # fmt: skip
    assert [r["status"] for r in added] == ["created", "created", "duplicate", "rejected"]
    assert added[3]["error"]["errors"][0]["pointer"] == "/items/3"

    items = api.get(f"/v1/annotation-queues/{queue}/items").json()["items"]
    held = next(i for i in items if i["id"] == added[0]["id"])
    assert held["dataset"] == f"d-{unique}" and held["status"] == "pending"
    assert (held["trace_id"], held["span_id"]) == (trace, span)
    answers = {"feedback": [
        {"name": verdict, "value": "bad", "comment": "made up"},
        {"name": fix, "value": "It ships on Monday."},
    ]}  # fmt: skip
    url = f"/v1/annotation-queues/{queue}/items/{held['id']}/complete"
    done = api.post(url, json=answers).json()
    assert done["item"]["status"] == "done" and done["item"]["done_by"] == "tests"
    assert [r["status"] for r in done["results"]] == ["created", "created"]
    row = api.get(f"/v1/datasets/d-{unique}/examples").json()["items"][0]
    assert row["annotation_status"] == "filled" and row["expected"] == "It ships on Monday."

    stored = api.get("/v1/feedback", params={"span_id": span, "name": verdict}).json()["items"]
    assert [(e["source"], e["user_id"], e["value"]) for e in stored] == [
        ("annotator", "tests", "bad")
    ]
    again = api.post(url, json={"feedback": [{"name": verdict, "value": "ok"}]}).json()
    assert again["results"][0]["status"] == "revised"
    revised = api.get("/v1/feedback", params={"span_id": span, "name": verdict}).json()["items"]
    assert [e["value"] for e in revised] == ["ok"]

    queue_now = api.get(f"/v1/annotation-queues/{queue}").json()
    assert queue_now["counts"] == {"pending": 1, "done": 1}
    pending = api.get(f"/v1/annotation-queues/{queue}/items", params={"status": "pending"})
    assert [i["span_id"] for i in pending.json()["items"]] == [other_span]


def test_two_reviewers_never_hold_the_same_item(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    verdict, _ = configure(api, unique)
    queue = f"holds-{unique}"
    api.post("/v1/annotation-queues", json={"name": queue, "feedback_names": [verdict]})
    spans = [store_span(live_server) for _ in range(2)]
    items = [{"trace_id": t, "span_id": s} for t, s in spans]
    api.post(f"/v1/annotation-queues/{queue}/items", json={"items": items})
    with httpx.Client(base_url=live_server.url, timeout=30) as other:
        made = api.post("/v1/tokens", json={"scopes": ["admin"], "name": "second reviewer"})
        other.headers["authorization"] = f"Bearer {made.json()['token']}"
        mine = api.post(f"/v1/annotation-queues/{queue}/items/next").json()["item"]
        theirs = other.post(f"/v1/annotation-queues/{queue}/items/next").json()["item"]
        assert mine["id"] != theirs["id"]
        assert other.post(f"/v1/annotation-queues/{queue}/items/next").json()["item"] == theirs
        none_left = other.post(
            f"/v1/annotation-queues/{queue}/items/next", json={"skip": [theirs["id"]]}
        )
        assert none_left.json() == {"item": None}
    again = api.post(f"/v1/annotation-queues/{queue}/items/next").json()["item"]
    assert again == mine


def test_problems(live_server: LiveServer, api: httpx.Client, unique: str) -> None:
    verdict, _ = configure(api, unique)
    bad = api.post(
        "/v1/annotation-queues",
        json={"name": f"p-{unique}", "feedback_names": [verdict, "unconfigured-x"]},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/feedback_names/1"
    bad_fill = api.post(
        "/v1/annotation-queues",
        json={"name": f"p-{unique}", "feedback_names": [verdict], "fill": {"query": "value <"}},
    )
    assert bad_fill.json()["errors"][0]["pointer"] == "/fill/query"
    queue = f"p-{unique}"
    api.post("/v1/annotation-queues", json={"name": queue, "feedback_names": [verdict]})
    trace, span = store_span(live_server)
    api.post(
        f"/v1/annotation-queues/{queue}/items",
        json={"items": [{"trace_id": trace, "span_id": span}]},
    )
    url = f"/v1/annotation-queues/{queue}/items/{trace}-{span}/complete"
    outside = api.post(url, json={"feedback": [{"name": "other", "value": 1}]})
    assert outside.status_code == 422
    assert outside.json()["errors"][0]["pointer"] == "/feedback/0/name"
    wrong = api.post(url, json={"feedback": [{"name": verdict, "value": "maybe"}]})
    assert wrong.json()["errors"][0]["pointer"] == "/feedback/0/value"
    assert (
        api.post(
            f"/v1/annotation-queues/{queue}/items/x/complete", json={"feedback": []}
        ).status_code
        == 404
    )
    assert api.get(f"/v1/annotation-queues/none-{unique}").status_code == 404
    assert (
        api.get(f"/v1/annotation-queues/{queue}/items", params={"status": "x"}).status_code == 422
    )
    listed = api.get("/v1/annotation-queues").json()
    assert queue in [q["name"] for q in listed["items"]] and "next_cursor" in listed
    with live_server.client(live_server.browser_token) as browser:
        assert browser.get("/v1/annotation-queues").status_code == 403
        assert browser.post(url, json={"feedback": []}).status_code == 403
    assert api.delete(f"/v1/annotation-queues/{queue}").status_code == 204
    assert api.delete(f"/v1/annotation-queues/{queue}").status_code == 404


def test_fill_into_a_dataset_queues_its_rows_and_reviews_fill_them(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    verdict, fix = configure(api, unique)
    thumbs = f"thumbs-{unique}"
    dataset = f"fixes-{unique}"
    body = {"name": f"dq-{unique}", "feedback_names": [verdict, fix],
            "fill": {"query": f'name = "{thumbs}"', "dataset": dataset}}  # fmt: skip
    missing = api.post("/v1/annotation-queues", json=body)
    assert missing.json()["errors"][0]["pointer"] == "/fill/dataset"
    api.post("/v1/datasets", json={"name": dataset})
    assert api.post("/v1/annotation-queues", json=body).status_code == 201
    trace, span = store_span(live_server)
    send_feedback(api, [{"name": thumbs, "trace_id": trace, "span_id": span, "value": "down"}])

    def items() -> list[dict[str, str]]:
        found: list[dict[str, str]] = api.get(f"/v1/annotation-queues/dq-{unique}/items").json()[
            "items"
        ]
        return found

    wait_for(lambda: len(items()) == 1)
    item = items()[0]
    assert item["dataset"] == dataset and item["example_id"] == f"{trace}-{span}"
    row = api.get(f"/v1/datasets/{dataset}/examples").json()["items"][0]
    assert row["annotation_status"] == "empty" and row["source"]["span_id"] == span
    answers = {"feedback": [{"name": fix, "value": "Better answer"}]}
    api.post(f"/v1/annotation-queues/dq-{unique}/items/{item['id']}/complete", json=answers)
    row = api.get(f"/v1/datasets/{dataset}/examples").json()["items"][0]
    assert row["annotation_status"] == "filled" and row["expected"] == "Better answer"
