"""Browser tokens in a real browser and over HTTP: origins, per-span scope, rate limits."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser.conftest import Demo, plaudit_serving, wait_for_feedback
from tests.browser.test_chat_demo import ask

SEND = """async ([url, token, links]) => {
  const { createFeedbackClient, Feedback } = await import(url + "/sdk/plaudit-feedback.js");
  const errors = [];
  const client = createFeedbackClient(
    { url, token, maxAttempts: 1 }, { onError: (e) => errors.push(e) });
  client.sendFeedback(links, Feedback.thumbUp({ name: "sneaky" }));
  await client.flush();
  client.close();
  return errors.map((e) => ({ status: e.status ?? null, message: e.message }));
}"""


def preflight(url: str, origin: str) -> httpx.Response:
    return httpx.options(
        f"{url}/v1/feedback",
        headers={
            "origin": origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )


def test_preflight_is_answered_for_allowed_origins_only(demo: Demo) -> None:
    allowed = preflight(demo.url, demo.chat_url)
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == demo.chat_url
    assert "authorization" in allowed.headers["access-control-allow-headers"]
    refused = preflight(demo.url, "http://evil.example")
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers


def test_a_token_used_from_an_origin_it_does_not_allow_is_refused(page: Page, demo: Demo) -> None:
    with demo.api() as api:
        made = api.post(
            "/v1/tokens",
            json={"scopes": ["feedback:write"], "name": "elsewhere",
                  "origins": ["http://elsewhere.example"]},
        )  # fmt: skip
        assert made.status_code == 201, made.text
        token = made.json()["token"]
        card = ask(page, demo)
        span_id = card.get_attribute("data-span-id")
        links = {"span_id": span_id, "trace_id": card.get_attribute("data-trace-id")}
        errors = page.evaluate(SEND, [demo.url, token, links])
        assert [e["status"] for e in errors] == [403]
        assert "not allowed" in errors[0]["message"]
        stored = wait_for_feedback(api, 1, timeout=0.3, span_id=span_id or "", name="sneaky")
        assert stored == []


def test_a_per_span_token_cannot_rate_another_span(page: Page, demo: Demo) -> None:
    first = ask(page, demo, "refund?")
    second = ask(page, demo, "shipping?")
    mine = page.evaluate(
        """async () => (await fetch("/api/chat", {method: "POST",
            headers: {"content-type": "application/json"},
            body: JSON.stringify({message: "hi", user_id: "mallory"})})).json()"""
    )
    assert mine["feedback_token"].startswith("pft_")
    others = [
        {"span_id": card.get_attribute("data-span-id"),
         "trace_id": card.get_attribute("data-trace-id")}
        for card in (first, second)
    ]  # fmt: skip
    with demo.api() as api:
        for target in others:
            links = {**target, "token": mine["feedback_token"]}
            errors = page.evaluate(SEND, [demo.url, None, links])
            assert [e["status"] for e in errors] == [403]
            assert "this feedback token is for span" in errors[0]["message"]
            assert wait_for_feedback(api, 1, timeout=0.2, span_id=target["span_id"]) == []
        # The same token does rate its own span.
        assert page.evaluate(SEND, [demo.url, None, {"token": mine["feedback_token"]}]) == []
        stored = wait_for_feedback(api, 1, span_id=mine["links"]["span_id"])
        assert [(e["name"], e["user_id"]) for e in stored] == [("sneaky", "mallory")]


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """A server whose browser tokens get 3 requests, then one every 10 s."""
    with plaudit_serving(
        tmp_path_factory,
        (),
        rate_limit_token_per_second=0.1,
        rate_limit_token_burst=3,
        rate_limit_ip_per_second=0.1,
        rate_limit_ip_burst=5,
    ) as (url, (admin, browser, _)):
        yield url, admin, browser


def rate(url: str, token: str, span_id: str = "00f067aa0ba902b7") -> httpx.Response:
    event: dict[str, Any] = {"span_id": span_id, "name": "helpful", "value": 1}
    return httpx.post(
        f"{url}/v1/feedback", json=event, headers={"authorization": f"Bearer {token}"}
    )


def test_rate_limits_answer_429_with_retry_after(limited: tuple[str, str, str]) -> None:
    url, admin, browser = limited
    assert [rate(url, browser).status_code for _ in range(3)] == [200, 200, 200]
    refused = rate(url, browser)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "/problems/rate-limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 10
    # Secret tokens belong to servers and are not limited.
    assert [rate(url, admin).status_code for _ in range(6)] == [200] * 6

    # A per-span token has its own bucket, but shares the address's: 4 of its 5 are spent
    # (a request refused for its token still counts for its address).
    minted = httpx.post(
        f"{url}/v1/feedback-tokens",
        json={"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"},
        headers={"authorization": f"Bearer {admin}"},
    ).json()["token"]
    statuses = [rate(url, minted).status_code for _ in range(3)]
    assert statuses == [200, 429, 429]
    assert "from 127.0.0.1" in rate(url, minted).json()["detail"]
