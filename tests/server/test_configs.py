"""Feedback configs: declared names are checked, undeclared names are inferred."""

import httpx

TRACE = "0af7651916cd43dd8448eb211c80319c"


def send(api: httpx.Client, name: str, value: object, **extra: object) -> httpx.Response:
    return api.post("/v1/feedback", json={"name": name, "trace_id": TRACE, "value": value, **extra})


def test_enum_config_checks_values_and_sets_the_kind(api: httpx.Client, unique: str) -> None:
    name = f"issue-category-{unique}"
    config = {"kind": "enum", "enum_values": ["hallucination", "too-slow"], "description": "why"}
    assert api.put(f"/v1/feedback-configs/{name}", json=config).status_code == 200

    accepted = send(api, name, "hallucination", id=f"ok-{unique}")
    assert accepted.json()["results"][0]["status"] == "created"
    assert api.get(f"/v1/feedback/ok-{unique}").json()["kind"] == "enum"  # not inferred as text

    refused = send(api, name, "rude")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "/value"
    assert "hallucination" in refused.json()["errors"][0]["detail"]

    wrong_kind = send(api, name, "hallucination", kind="text")
    assert wrong_kind.status_code == 422 and wrong_kind.json()["errors"][0]["pointer"] == "/kind"

    names = [c["name"] for c in api.get("/v1/feedback-configs").json()["items"]]
    assert name in names
    assert api.delete(f"/v1/feedback-configs/{name}").status_code == 204
    assert send(api, name, "rude").json()["results"][0]["status"] == "created"


def test_number_config_checks_the_range(api: httpx.Client, unique: str) -> None:
    name = f"stars-{unique}"
    api.put(f"/v1/feedback-configs/{name}", json={"kind": "number", "min": 1, "max": 5})
    assert send(api, name, 5).status_code == 200
    too_high = send(api, name, 6)
    assert too_high.status_code == 422 and "maximum" in too_high.json()["errors"][0]["detail"]
    assert send(api, name, 0.5).status_code == 422


def test_inconsistent_configs_are_refused(api: httpx.Client, unique: str) -> None:
    bad_range = api.put(
        f"/v1/feedback-configs/r-{unique}", json={"kind": "number", "min": 5, "max": 1}
    )
    assert bad_range.status_code == 422
    bad_kind = api.put(f"/v1/feedback-configs/k-{unique}", json={"kind": "sideways"})
    assert bad_kind.status_code == 422
    mismatch = api.put(f"/v1/feedback-configs/a-{unique}", json={"name": "b", "kind": "bool"})
    assert mismatch.status_code == 422
