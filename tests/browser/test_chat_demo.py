"""The chat demo in Chromium: every control stores the right feedback on the answer's span."""

from typing import Any

from playwright.sync_api import BrowserContext, Locator, Page, Route

from tests.browser.conftest import Demo, wait_for_feedback


def ask(page: Page, demo: Demo, message: str = "How long does a refund take?") -> Locator:
    """Open the demo (if needed), ask, and answer the new answer's card."""
    if not page.url.startswith(demo.chat_url):
        page.goto(demo.chat_url)
        page.wait_for_selector("body[data-ready=true]")
    before = page.locator("article.answer").count()
    page.fill("#message", message)
    page.click("#ask button")
    card = page.locator("article.answer").nth(before)
    card.wait_for()
    return card


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


def test_each_control_sends_its_kind_linked_to_the_answer(page: Page, demo: Demo) -> None:
    card = ask(page, demo)
    span_id, trace_id = card.get_attribute("data-span-id"), card.get_attribute("data-trace-id")
    assert span_id and trace_id
    card.locator(".up").click()
    card.locator(".down").click()  # changes the vote: a revision, not a second event
    card.locator(".star[data-value='4']").click()
    card.locator(".issue").select_option("wrong-format")
    card.locator(".comment").fill("It did not mention weekends.")
    card.locator(".send-comment").click()
    card.locator(".copy").click()
    card.locator(".edit").click()
    card.locator(".edit-text").fill("Refunds take 5 to 7 working days, weekends excluded.")
    card.locator(".save-edit").click()
    card.locator(".regenerate").click()
    page.locator("article.answer").nth(1).wait_for()
    page.wait_for_function("window.plaudit.pending() === 0")

    with demo.api() as api:
        items = wait_for_feedback(api, 7, span_id=span_id)
        events = by_name(items)
        assert {name: (e["kind"], e.get("value")) for name, e in events.items()} == {
            "response-quality": ("thumb", -1),
            "star-rating": ("number", 4),
            "issue-category": ("enum", "wrong-format"),
            "comment": ("text", "It did not mention weekends."),
            "copy": ("signal", None),
            "regenerate": ("signal", None),
            "correction": ("correction", "Refunds take 5 to 7 working days, weekends excluded."),
        }
        assert len(items) == 7
        for event in items:
            assert event["trace_id"] == trace_id
            assert event["source"] == "end_user"
            assert event["capability"] == "chat"
            assert event["user_id"].startswith("user-")
        assert events["copy"]["implicit"] is True
        helpful = api.get(f"/v1/feedback/{events['response-quality']['id']}").json()
        assert [old["content"]["value"] for old in helpful["history"]] == [1]
    assert page.evaluate("window.feedbackErrors.length") == 0


def test_offline_then_online_delivers_each_event_once(
    page: Page, context: BrowserContext, demo: Demo
) -> None:
    card = ask(page, demo, "When do you ship?")
    span_id = card.get_attribute("data-span-id")
    assert span_id
    context.set_offline(True)
    card.locator(".up").click()
    card.locator(".star[data-value='5']").click()
    card.locator(".copy").click()
    page.wait_for_function("window.plaudit.pending() === 3")
    with demo.api() as api:
        assert wait_for_feedback(api, 1, timeout=0, span_id=span_id) == []
        context.set_offline(False)
        items = wait_for_feedback(api, 3, span_id=span_id)
        page.wait_for_function("window.plaudit.pending() === 0")
        # A barrier instead of a pause: one more event, sent after the others through the same
        # client, has arrived; anything sent twice before it has arrived too.
        marker = ask(page, demo, "And the barrier?")
        marker.locator(".up").click()
        marker_span = marker.get_attribute("data-span-id")
        assert marker_span and wait_for_feedback(api, 1, span_id=marker_span)
        items = api.get("/v1/feedback", params={"span_id": span_id}).json()["items"]
        assert sorted(e["name"] for e in items) == ["copy", "response-quality", "star-rating"]
        for event in items:
            assert api.get(f"/v1/feedback/{event['id']}").json()["history"] == []


def test_closing_the_page_right_after_a_click_still_delivers(
    context: BrowserContext, demo: Demo
) -> None:
    page = context.new_page()
    card = ask(page, demo, "I forgot my password")
    span_id = card.get_attribute("data-span-id")
    assert span_id
    card.locator(".down").click()
    page.close(run_before_unload=True)
    with demo.api() as api:
        items = wait_for_feedback(api, 1, span_id=span_id)
        assert [(e["name"], e["value"]) for e in items] == [("response-quality", -1)]


def test_a_page_left_offline_sends_its_feedback_from_the_next_page(
    context: BrowserContext, demo: Demo
) -> None:
    page = context.new_page()
    card = ask(page, demo, "refund please")
    span_id = card.get_attribute("data-span-id")
    assert span_id
    context.set_offline(True)
    card.locator(".star[data-value='2']").click()
    page.close()
    # Chromium's offline emulation does not always stop the page-hide beacon, so the event may
    # already be there; either way the next page's flush must leave it stored exactly once.
    context.set_offline(False)
    context.new_page().goto(demo.chat_url)  # the stored queue is sent by the next page
    with demo.api() as api:
        items = wait_for_feedback(api, 1, span_id=span_id)
        assert [(e["name"], e["value"]) for e in items] == [("star-rating", 2)]
        assert [e["revision"] for e in items] == [1]


def test_page_hide_hands_what_waits_to_send_beacon(context: BrowserContext, demo: Demo) -> None:
    page = context.new_page()
    card = ask(page, demo, "shipping times?")
    span_id = card.get_attribute("data-span-id")
    assert span_id
    refused: list[str] = []

    def refuse_fetches(route: Route) -> None:
        # Playwright sees the page's fetches but not its beacons: with every fetch failing,
        # only the beacon sent on page hide can deliver the feedback.
        refused.append(route.request.headers.get("content-type") or "")
        route.abort("connectionreset")

    context.route(f"{demo.url}/v1/feedback", refuse_fetches)
    card.locator(".star[data-value='3']").click()
    page.wait_for_function("window.plaudit.pending() === 1")
    page.close(run_before_unload=True)
    with demo.api() as api:
        items = wait_for_feedback(api, 1, span_id=span_id)
    assert [(e["name"], e["value"]) for e in items] == [("star-rating", 3)]
    assert refused and all(kind == "application/json" for kind in refused)
