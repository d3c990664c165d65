"""The loop's console pages in Debian's Chromium: a 👎 fills a queue, a reviewer completes it
with the keyboard alone, and the dataset row is filled; "Add to dataset" from a trace; axe-core
finds no serious violation on the new pages."""

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console.conftest import VIEWPORT, ConsoleServer, sign_in
from tests.console.test_pages_in_browser import AXE, _violations


def _api(server: ConsoleServer) -> httpx.Client:
    headers = {"authorization": f"Bearer {server.admin_token}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def _demo_span(api: httpx.Client) -> dict[str, Any]:
    params = {"capability": "support-agent", "limit": 1}
    event: dict[str, Any] = api.get("/v1/feedback", params=params).json()["items"][0]
    return event


@pytest.fixture
def tab(browser: Browser, console_server: ConsoleServer) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, color_scheme="light", bypass_csp=True)
    page = context.new_page()
    sign_in(page, console_server.url, console_server.admin_token)
    yield page
    context.close()


def _reload_until(page: Page, url: str, selector: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        page.goto(url)
        if page.locator(selector).count():
            return
        assert time.monotonic() < deadline, f"{selector} never appeared"
        time.sleep(0.2)


def test_a_thumbs_down_is_reviewed_with_the_keyboard_into_a_filled_row(
    tab: Page, console_server: ConsoleServer
) -> None:
    url = console_server.url
    with _api(console_server) as api:
        api.put(
            "/v1/feedback-configs/verdict", json={"kind": "enum", "enum_values": ["right", "wrong"]}
        )
        api.put("/v1/feedback-configs/better-answer", json={"kind": "correction"})
        api.post("/v1/datasets", json={"name": "reviewed"})
        fill = {"query": 'name = "journey-thumb" and value = -1', "dataset": "reviewed"}
        queue = {"name": "thumbs-down", "feedback_names": ["verdict", "better-answer"],
                 "instructions": "Was the answer wrong? Write what it should have said.",
                 "fill": fill}  # fmt: skip
        assert api.post("/v1/annotation-queues", json=queue).status_code == 201
        span = _demo_span(api)
        target = {"trace_id": span["trace_id"], "span_id": span["span_id"]}
    admin = {"authorization": f"Bearer {console_server.admin_token}"}
    token = httpx.post(f"{url}/v1/feedback-tokens", json={**target, "ttl_seconds": 600},
                       headers=admin)  # fmt: skip
    thumb = {**target, "name": "journey-thumb", "value": "down", "user_id": "shopper"}
    sent = httpx.post(f"{url}/v1/feedback", json=thumb,
                      headers={"authorization": f"Bearer {token.json()['token']}"})  # fmt: skip
    assert sent.json()["results"][0]["status"] == "created"

    _reload_until(tab, f"{url}/queues/thumbs-down", "#review-item")
    expect(tab.locator("#progress")).to_have_text("0/1 done")
    expect(tab.locator("#review-item")).to_contain_text("journey-thumb")
    tab.keyboard.press("2")  # verdict: wrong
    expect(tab.get_by_role("radio", name="wrong")).to_be_checked()
    tab.keyboard.press("Tab")
    tab.keyboard.type("Your order ships on Monday.")
    tab.keyboard.press("Escape")  # leave the text field, so keys are shortcuts again
    tab.keyboard.press("c")
    tab.keyboard.type("Made up a date")
    tab.keyboard.press("Enter")
    expect(tab.locator("#queue-done")).to_be_visible()
    expect(tab.locator("#progress")).to_have_text("1/1 done")
    expect(tab.locator("#recent")).to_contain_text("tests #")

    with _api(console_server) as api:
        rows = api.get("/v1/datasets/reviewed/examples").json()["items"]
        given = api.get("/v1/feedback", params={"span_id": target["span_id"], "name": "verdict"})
    assert [(r["annotation_status"], r["expected"]) for r in rows] == [
        ("filled", "Your order ships on Monday.")
    ]
    stored = given.json()["items"][0]
    assert (stored["source"], stored["value"], stored["comment"]) == (
        "annotator",
        "wrong",
        "Made up a date",
    )
    assert stored["user_id"].startswith("tests #")  # the admin token of the sign-in

    tab.goto(f"{url}/datasets/reviewed?from=1&to=2")
    expect(tab.locator("#diff .change-changed")).to_have_count(1)
    expect(tab.locator("#examples .status-filled")).to_have_count(1)


def test_add_a_span_to_a_dataset_from_its_trace(tab: Page, console_server: ConsoleServer) -> None:
    with _api(console_server) as api:
        span = _demo_span(api)
    tab.goto(f"{console_server.url}/traces/{span['trace_id']}?event={span['id']}")
    selected = tab.locator(".span.selected")
    selected.get_by_label("Add to dataset").fill("from-traces")
    selected.get_by_role("button", name="Add span").click()
    expect(tab).to_have_url(re.compile(r"/datasets/from-traces\?message="))
    expect(tab.locator("[role=status]")).to_contain_text("Added 1 spans")
    expect(
        tab.locator(f"#examples [data-example='{span['trace_id']}-{span['span_id']}']")
    ).to_be_visible()


@pytest.mark.parametrize(
    "path", ["/datasets", "/datasets/reviewed?from=0&to=2", "/queues", "/queues/thumbs-down",
             "/feedback?capability=support-agent"],
)  # fmt: skip
def test_new_pages_are_accessible(tab: Page, console_server: ConsoleServer, path: str) -> None:
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `npm ci` in tests/console")
    with _api(console_server) as api:
        api.post("/v1/datasets", json={"name": "reviewed"})
        api.put(
            "/v1/feedback-configs/verdict", json={"kind": "enum", "enum_values": ["right", "wrong"]}
        )
        api.post(
            "/v1/annotation-queues", json={"name": "thumbs-down", "feedback_names": ["verdict"]}
        )
        span = _demo_span(api)
        item = {"trace_id": span["trace_id"], "span_id": span["span_id"]}
        api.post("/v1/annotation-queues/thumbs-down/items", json={"items": [item]})
    tab.goto(console_server.url + path)
    assert _violations(tab) == []
