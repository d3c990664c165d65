"""/agreement in Debian's Chromium over the demo project: reached from the navigation, driven
by the keyboard, and free of serious axe-core violations."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console.conftest import VIEWPORT, ConsoleServer, sign_in
from tests.console.test_pages_in_browser import AXE, _violations


@pytest.fixture
def tab(browser: Browser, console_server: ConsoleServer) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, color_scheme="light", bypass_csp=True)
    page = context.new_page()
    sign_in(page, console_server.url, console_server.admin_token)
    yield page
    context.close()


def test_agreement_per_capability_by_keyboard(tab: Page, console_server: ConsoleServer) -> None:
    assert AXE.exists(), f"axe-core is missing: run `npm ci` in {AXE.parents[2]}"
    tab.get_by_role("link", name="Agreement").click()
    tab.wait_for_url(f"{console_server.url}/agreement")
    # The demo's thumbs and its LLM judge are chosen when the page opens.
    expect(tab.get_by_label("End users' feedback")).to_have_value("response-quality")
    expect(tab.get_by_label("Evaluator")).to_have_value("llm-judge")
    table = tab.locator("#agreement")
    expect(table.get_by_role("rowheader", name="support-agent")).to_be_visible()
    expect(table.get_by_role("rowheader", name="search")).to_be_visible()
    expect(tab.locator("#confusion")).to_contain_text("Evaluator passes")
    assert _violations(tab) == []

    # Pick another users' name with the keyboard and submit with Enter.
    tab.get_by_label("End users' feedback").focus()
    tab.keyboard.press("End")  # the last name: star-rating
    expect(tab.get_by_label("End users' feedback")).to_have_value("star-rating")
    tab.get_by_role("button", name="Compare").focus()
    tab.keyboard.press("Enter")
    tab.wait_for_url("**/agreement?user=star-rating*")
    expect(tab.locator("#no-agreement")).to_contain_text("star-rating")
