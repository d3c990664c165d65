"""`/v1/datasets` against a real server on both stores: versions, adding from feedback and from
traces, mappings, patches, removals, exports and imports, and the problems."""

import csv
import io

import httpx
import msgspec

from tests.conftest import LiveServer
from tests.loop.spans import send_feedback, store_span


def create(api: httpx.Client, name: str) -> dict[str, object]:
    response = api.post("/v1/datasets", json={"name": name, "description": "bad answers"})
    assert response.status_code == 201, response.text
    return response.json()


def test_create_list_get_delete_and_conflict(api: httpx.Client, unique: str) -> None:
    made = create(api, f"ds-{unique}")
    assert made["version"] == 0 and made["count"] == 0 and made["description"] == "bad answers"
    again = api.post("/v1/datasets", json={"name": f"ds-{unique}"})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    listed = api.get("/v1/datasets", params={"limit": 1000}).json()
    assert f"ds-{unique}" in [d["name"] for d in listed["items"]] and "next_cursor" in listed
    assert api.get(f"/v1/datasets/ds-{unique}").json()["name"] == f"ds-{unique}"
    assert api.delete(f"/v1/datasets/ds-{unique}").status_code == 204
    assert api.get(f"/v1/datasets/ds-{unique}").status_code == 404
    assert api.delete(f"/v1/datasets/ds-{unique}").status_code == 404


def test_list_pages_with_a_cursor(api: httpx.Client, unique: str) -> None:
    for i in range(3):
        create(api, f"page-{unique}-{i}")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/datasets", params=params).json()
        seen += [d["name"] for d in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert [n for n in seen if unique in n] == [f"page-{unique}-{i}" for i in range(3)]


def test_every_change_makes_one_version_and_any_version_stays_readable(
    api: httpx.Client, unique: str
) -> None:
    name = f"v-{unique}"
    create(api, name)
    first = api.post(
        f"/v1/datasets/{name}/examples",
        json={"examples": [{"id": "a", "input": "hi", "output": "yo"}, {"input": {"q": 1}}]},
    ).json()
    assert first["version"] == 1
    assert [r["status"] for r in first["results"]] == ["created", "created"]
    same = api.post(
        f"/v1/datasets/{name}/examples",
        json={"examples": [{"id": "a", "input": "hi", "output": "yo"}]},
    ).json()
    assert same == {"version": 1, "results": [{"id": "a", "status": "duplicate"}]}
    revised = api.post(
        f"/v1/datasets/{name}/examples",
        json={"examples": [{"id": "a", "input": "hi", "output": "hey"}]},
    ).json()
    assert revised["version"] == 2 and revised["results"][0]["status"] == "revised"
    patched = api.patch(
        f"/v1/datasets/{name}/examples/a", json={"metadata": {"tag": "x"}, "expected": "hello"}
    ).json()
    assert patched["version"] == 3 and patched["example"]["metadata"] == {"tag": "x"}
    unchanged = api.patch(f"/v1/datasets/{name}/examples/a", json={"expected": "hello"}).json()
    assert unchanged["version"] == 3
    assert api.delete(f"/v1/datasets/{name}/examples/a").json() == {"version": 4}
    assert api.delete(f"/v1/datasets/{name}/examples/a").status_code == 404

    def at(version: int) -> list[dict[str, object]]:
        return api.get(f"/v1/datasets/{name}/examples", params={"version": version}).json()["items"]

    assert [e.get("output") for e in at(1) if e["id"] == "a"] == ["yo"]
    assert [e.get("output") for e in at(2) if e["id"] == "a"] == ["hey"]
    assert [e["expected"] for e in at(3) if e["id"] == "a"] == ["hello"]
    assert [e["id"] for e in at(4)] == [e["id"] for e in at(1) if e["id"] != "a"]
    assert at(0) == []
    versions = api.get(f"/v1/datasets/{name}/versions").json()["items"]
    assert [(v["version"], v["added"], v["revised"], v["removed"]) for v in versions] == [
        (4, 0, 0, 1), (3, 0, 1, 0), (2, 0, 1, 0), (1, 2, 0, 0), (0, 0, 0, 0),
    ]  # fmt: skip
    assert api.get(f"/v1/datasets/{name}").json()["version"] == 4
    assert api.get(f"/v1/datasets/{name}").json()["count"] == 1
    assert api.get(f"/v1/datasets/{name}/examples", params={"version": 9}).status_code == 404


def test_from_feedback_maps_spans_and_a_rerun_adds_only_what_is_new(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    name = f"ff-{unique}"
    create(api, name)
    trace, span = store_span(live_server)
    other_trace, other_span = store_span(
        live_server, {"gen_ai.input.messages": None, "input.value": "plain"}
    )
    feedback_name = f"quality-{unique}"
    send_feedback(api, [
        {"id": f"f1-{unique}", "name": feedback_name, "trace_id": trace, "span_id": span,
         "value": "down", "comment": "wrong", "user_id": "u1"},
        {"id": f"f2-{unique}", "name": feedback_name, "trace_id": trace, "span_id": span,
         "value": "down", "user_id": "u2", "expected": "It ships tomorrow."},
        {"id": f"f3-{unique}", "name": feedback_name, "trace_id": other_trace,
         "span_id": other_span, "value": "up"},
    ])  # fmt: skip
    query = {"query": f'name = "{feedback_name}" and value = -1'}
    body = {"from_feedback": query}
    added = api.post(f"/v1/datasets/{name}/examples", json=body).json()
    assert added == {"version": 1, "results": [{"id": f"{trace}-{span}", "status": "created"}]}
    example = api.get(f"/v1/datasets/{name}/examples").json()["items"][0]
    assert example["input"][0]["role"] == "user" and example["output"][0]["role"] == "assistant"
    assert example["expected"] == "It ships tomorrow."
    assert example["source"] == {
        "trace_id": trace, "span_id": span, "feedback_ids": [f"f1-{unique}", f"f2-{unique}"],
    }  # fmt: skip
    assert example["metadata"]["capability"] == "support-agent"
    assert example["metadata"]["feedback"][0] == {
        "name": feedback_name, "value": -1, "comment": "wrong", "user_id": "u1",
    }  # fmt: skip
    assert example["annotation_status"] == "empty"
    again = api.post(f"/v1/datasets/{name}/examples", json=body).json()
    assert again["version"] == 1 and again["results"][0]["status"] == "duplicate"
    send_feedback(api, [{"id": f"f4-{unique}", "name": feedback_name, "trace_id": other_trace,
                         "span_id": other_span, "value": "down"}])  # fmt: skip
    third = api.post(f"/v1/datasets/{name}/examples", json=body).json()
    assert third["version"] == 2
    assert sorted(r["status"] for r in third["results"]) == ["created", "duplicate"]
    new = [
        e
        for e in api.get(f"/v1/datasets/{name}/examples").json()["items"]
        if e["id"].startswith(other_trace)
    ]
    assert new[0]["input"] == "plain"


def test_mapping_overrides_columns_and_paths(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    name = f"map-{unique}"
    create(api, name)
    trace, span = store_span(live_server, {"app.question": "Refund?"})
    send_feedback(api, [{"id": f"m-{unique}", "name": f"why-{unique}", "trace_id": trace,
                         "span_id": span, "value": "down",
                         "metadata": {"category": "hallucination"}}])  # fmt: skip
    body = {
        "from_trace": {"trace_id": trace, "span_id": span},
        "mapping": {
            "input": "span.app.question",
            "metadata.reason": "feedback.metadata.category",
            "expected": "trace.plaudit.step",
        },
    }
    result = api.post(f"/v1/datasets/{name}/examples", json=body).json()
    assert result["results"][0] == {"id": f"{trace}-{span}", "status": "created"}
    example = api.get(f"/v1/datasets/{name}/examples").json()["items"][0]
    assert example["input"] == "Refund?"
    assert example["metadata"]["reason"] == "hallucination"
    assert example["metadata"]["capability"] == "support-agent"
    assert example["expected"] == "respond"
    assert example["output"][0]["role"] == "assistant"


def test_export_ndjson_and_csv_then_import(api: httpx.Client, unique: str) -> None:
    name = f"exp-{unique}"
    create(api, name)
    examples = [{"id": f"e{i}", "input": {"n": i}, "output": f"out {i}"} for i in range(5)]
    api.post(f"/v1/datasets/{name}/examples", json={"examples": examples})
    ndjson = api.get(f"/v1/datasets/{name}/examples", headers={"accept": "application/x-ndjson"})
    assert ndjson.headers["content-type"].startswith("application/x-ndjson")
    lines = [msgspec.json.decode(line) for line in ndjson.text.splitlines()]
    assert [line["input"] for line in lines] == [{"n": i} for i in range(5)]
    as_csv = api.get(f"/v1/datasets/{name}/examples", headers={"accept": "text/csv"})
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert rows[0]["id"] == "e0" and msgspec.json.decode(rows[0]["input"]) == {"n": 0}

    copy = f"copy-{unique}"
    create(api, copy)
    imported = api.post(
        f"/v1/datasets/{copy}/examples",
        content=ndjson.content,
        headers={"content-type": "application/x-ndjson"},
    ).json()
    assert imported["version"] == 1 and len(imported["results"]) == 5
    back = api.get(f"/v1/datasets/{copy}/examples").json()["items"]
    assert back == lines


def test_problems_point_at_the_field(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    name = f"bad-{unique}"
    create(api, name)
    url = f"/v1/datasets/{name}/examples"
    mixed = api.post(url, json={"examples": [{"id": "ok"}, {"id": "no spaces"}, 3]}).json()
    assert [r["status"] for r in mixed["results"]] == ["created", "rejected", "rejected"]
    assert mixed["results"][1]["error"]["errors"][0]["pointer"] == "/examples/1/id"
    cases = [
        ({"from_feedback": {"query": "name ="}}, "/from_feedback/query"),
        ({"from_feedback": {"query": "", "since": "yesterday"}}, "/from_feedback/since"),
        ({"from_trace": {"trace_id": "xyz"}}, "/from_trace/trace_id"),
        (
            {"from_trace": {"trace_id": "a" * 32}, "mapping": {"colour": "span.x"}},
            "/mapping/colour",
        ),
        ({"examples": [], "from_trace": {"trace_id": "a" * 32}}, "/"),
        ({"examples": [{}] * 1001}, "/examples"),
    ]
    for body, pointer in cases:
        response = api.post(url, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["pointer"] == pointer
    missing = api.post(url, json={"from_trace": {"trace_id": "a" * 32}})
    assert missing.status_code == 404
    nope = api.post(f"/v1/datasets/nope-{unique}/examples", json={"examples": []})
    assert nope.status_code == 404
    assert (
        api.post("/v1/datasets", json={"name": "no spaces"}).json()["errors"][0]["pointer"]
        == "/name"
    )
    bad_patch = api.patch(f"{url}/ok", json={"annotation_status": "done", "colour": 1})
    assert {e["pointer"] for e in bad_patch.json()["errors"]} == {"/annotation_status", "/colour"}
    assert api.patch(f"{url}/missing", json={}).status_code == 404


def test_browser_tokens_are_refused(live_server: LiveServer, unique: str) -> None:
    with live_server.client(live_server.browser_token) as browser:
        assert browser.get("/v1/datasets").status_code == 403
        assert browser.post("/v1/datasets", json={"name": f"b-{unique}"}).status_code == 403
        assert browser.get(f"/v1/datasets/x-{unique}/examples").status_code == 403
