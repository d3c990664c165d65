"""A browser-safe token revises only what browser tokens wrote for the same user (both stores).

Browser tokens sit in every visitor's page and the browser client's ids are predictable (span,
name, user), so without this rule one visitor could overwrite another's vote, an annotator's
label or an evaluator's score by sending its id.
"""

from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer

TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"


def vote(event_id: str, value: str, user: str | None = "u-1", **more: Any) -> dict[str, Any]:
    event = {"id": event_id, "name": "response-quality", "trace_id": TRACE, "value": value}
    return {**event, **({"user_id": user} if user else {}), **more}


def current(api: httpx.Client, event_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = api.get(f"/v1/feedback/{event_id}").json()
    return answer


@pytest.fixture
def browser(live_server: LiveServer) -> Any:
    with live_server.client(live_server.browser_token) as client:
        yield client


@pytest.mark.parametrize("source", ["annotator", "evaluator", "app", "end_user"])
def test_events_a_secret_token_wrote_are_not_the_browsers_to_change(
    api: httpx.Client, browser: httpx.Client, unique: str, source: str
) -> None:
    event_id = f"{source}-{unique}"
    assert api.post("/v1/feedback", json=vote(event_id, "up", source=source)).status_code == 200
    answer = browser.post("/v1/feedback", json=vote(event_id, "down"))
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["pointer"] == "/id"
    stored = current(api, event_id)
    assert (stored["value"], stored["source"], stored["revision"]) == (1, source, 1)
    assert stored["history"] == []


def test_a_browser_user_changes_their_own_vote_but_not_another_users(
    api: httpx.Client, browser: httpx.Client, unique: str
) -> None:
    event_id = f"mine-{unique}"
    assert browser.post("/v1/feedback", json=vote(event_id, "up")).json()["results"] == [
        {"id": event_id, "status": "created"}
    ]
    other = browser.post("/v1/feedback", json=vote(event_id, "down", user="u-2"))
    assert other.status_code == 409
    anonymous = browser.post("/v1/feedback", json=vote(event_id, "down", user=None))
    assert anonymous.status_code == 409
    assert current(api, event_id)["value"] == 1

    mine = browser.post("/v1/feedback", json=vote(event_id, "down"))
    assert mine.json()["results"] == [{"id": event_id, "status": "revised"}]
    assert current(api, event_id)["value"] == -1
    assert browser.post("/v1/feedback", json=vote(event_id, "down")).json()["results"][0] == {
        "id": event_id,
        "status": "duplicate",
    }


def test_once_a_secret_token_revises_a_browser_vote_the_browser_cannot(
    api: httpx.Client, browser: httpx.Client, unique: str
) -> None:
    event_id = f"taken-{unique}"
    browser.post("/v1/feedback", json=vote(event_id, "up"))
    assert (
        api.post("/v1/feedback", json=vote(event_id, "down")).json()["results"][0]["status"]
        == "revised"
    )
    assert browser.post("/v1/feedback", json=vote(event_id, "up")).status_code == 409
    assert current(api, event_id)["value"] == -1


def test_in_a_batch_only_the_refused_item_is_rejected(
    api: httpx.Client, browser: httpx.Client, unique: str
) -> None:
    api.post("/v1/feedback", json=vote(f"judge-{unique}", "up", source="evaluator"))
    batch = [vote(f"new-{unique}", "up"), vote(f"judge-{unique}", "down")]
    results = browser.post("/v1/feedback", json={"feedback": batch}).json()["results"]
    assert [r["status"] for r in results] == ["created", "rejected"]
    assert results[1]["id"] == f"judge-{unique}"
    assert results[1]["error"]["errors"][0]["pointer"] == "/feedback/1/id"
    assert current(api, f"judge-{unique}")["value"] == 1


def test_a_per_span_token_is_held_to_the_same_rule(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    event_id = f"span-{unique}"
    annotated = vote(event_id, "up", source="annotator", span_id=SPAN)
    assert api.post("/v1/feedback", json=annotated).status_code == 200
    minted = api.post(
        "/v1/feedback-tokens", json={"trace_id": TRACE, "span_id": SPAN, "user_id": "u-1"}
    )
    assert minted.status_code == 200, minted.text  # minting stores nothing: not a 201
    with live_server.client(minted.json()["token"]) as span_client:
        refused = span_client.post("/v1/feedback", json=vote(event_id, "down", span_id=SPAN))
        assert refused.status_code == 409
        own = vote(f"own-{unique}", "down", span_id=SPAN)
        assert span_client.post("/v1/feedback", json=own).json()["results"][0]["status"] == (
            "created"
        )
        own["value"] = "up"
        assert span_client.post("/v1/feedback", json=own).json()["results"][0]["status"] == (
            "revised"
        )
    assert current(api, event_id)["source"] == "annotator"
