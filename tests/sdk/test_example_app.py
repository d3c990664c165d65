"""The example support app, run against a real Plaudit server: answers carry links and a token,
and feedback given either way (browser with the token, or through the app) arrives linked."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from examples.support_app.app import create_app

from tests.conftest import LiveServer, free_port, serving_app
from tests.sdk.conftest import Errors, wait_for


@pytest.fixture
def support_app(live_server: LiveServer, errors: Errors) -> Iterator[str]:
    app = create_app(url=live_server.url, token=live_server.admin_token, on_error=errors)
    with serving_app(app, free_port()) as url:
        yield url


def test_an_answer_can_be_rated_by_browser_and_through_the_app(
    support_app: str, live_server: LiveServer, api: httpx.Client, errors: Errors
) -> None:
    page = httpx.get(support_app)
    assert page.status_code == 200 and live_server.url in page.text
    asked = httpx.post(
        f"{support_app}/ask",
        json={"question": "How long does a refund take?", "user_id": "u-42",
              "conversation_id": "conv-1"},
    ).json()  # fmt: skip
    assert asked["answer"].startswith("Refunds reach your card")
    links = asked["links"]
    assert links["capability"] == "support-agent" and asked["feedback_token"].startswith("pft_")

    beacon = f'{{"token": "{asked["feedback_token"]}", "feedback": [{{"name": "helpful", "value": "down"}}]}}'  # noqa: E501
    browser = httpx.post(
        f"{live_server.url}/v1/feedback", content=beacon, headers={"content-type": "text/plain"}
    )
    assert browser.json()["results"][0]["status"] == "created"
    other = {"token": asked["feedback_token"], "name": "stars", "value": 5}
    assert httpx.post(f"{live_server.url}/v1/feedback", json=other).status_code == 403

    forwarded = httpx.post(
        f"{support_app}/feedback", json={"links": links, "rating": 1, "user_id": "u-7"}
    )
    assert forwarded.status_code == 202

    def trace() -> dict[str, Any] | None:
        response = api.get(f"/v1/traces/{links['trace_id']}")
        if response.status_code != 200 or len(response.json()["spans"][0]["feedback"]) < 2:
            return None
        body: dict[str, Any] = response.json()
        return body

    turn = wait_for(trace)["spans"][0]
    assert turn["name"] == "support-turn" and turn["conversation_id"] == "conv-1"
    assert {child["step"] for child in turn["children"]} == {"retrieve", "respond"}
    respond = next(c for c in turn["children"] if c["step"] == "respond")
    assert respond["attributes"]["gen_ai.request.model"] == "fake-llm-1"
    votes = {(f["user_id"], f["value"], f["source"]) for f in turn["feedback"]}
    assert votes == {("u-42", -1, "end_user"), ("u-7", 1, "end_user")}
    assert errors.items == []
