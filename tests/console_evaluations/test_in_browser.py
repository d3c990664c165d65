"""The evaluation pages in Debian's Chromium over the demo console: from the navigation to a
dataset's runs, one run and the comparison with its baseline, by keyboard; axe-core finds no
serious violation on any of them."""

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console.conftest import VIEWPORT, ConsoleServer, sign_in
from tests.console.test_pages_in_browser import AXE, _violations
from tests.console_evaluations.conftest import two_runs


def _api(server: ConsoleServer) -> httpx.Client:
    headers = {"authorization": f"Bearer {server.admin_token}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


@pytest.fixture
def tab(browser: Browser, console_server: ConsoleServer) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, color_scheme="light", bypass_csp=True)
    page = context.new_page()
    sign_in(page, console_server.url, console_server.admin_token)
    yield page
    context.close()


def test_runs_run_and_comparison_by_keyboard(tab: Page, console_server: ConsoleServer) -> None:
    assert AXE.exists(), f"axe-core is missing: run `npm ci` in {AXE.parents[2]}"
    with _api(console_server) as api:
        runs = two_runs(api, "b0000001")
    tab.get_by_role("link", name="Evaluations", exact=True).click()
    tab.wait_for_url(f"{console_server.url}/evaluations")
    tab.get_by_label("Dataset", exact=True).select_option(runs.dataset)
    tab.get_by_role("button", name="Show runs").focus()
    tab.keyboard.press("Enter")
    tab.wait_for_url(f"**/evaluations?dataset={runs.dataset}")
    expect(tab.locator("#runs tbody tr")).to_have_count(2)
    assert _violations(tab) == []

    tab.keyboard.press("j")  # the newest run's link
    expect(tab.locator(f'#runs tr[data-run="{runs.fixed}"] a.open')).to_be_focused()
    tab.keyboard.press("Enter")
    tab.wait_for_url(f"**/evaluations/{runs.fixed}")
    expect(tab.locator("#run-counts")).to_have_text("4 done, 0 errors, 0 pending, of 4")
    expect(tab.get_by_label("Compare with", exact=True)).to_have_value(runs.baseline)
    assert _violations(tab) == []

    tab.get_by_role("button", name="Compare").focus()
    tab.keyboard.press("Enter")
    tab.wait_for_url(f"**/evaluations/{runs.fixed}/compare?baseline={runs.baseline}")
    rows = tab.locator("#compare tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("▼ regressed")
    expect(rows.nth(1)).to_contain_text("▲ improved")
    expect(rows.nth(1)).to_contain_text("guardrail")
    assert _violations(tab) == []
    tab.get_by_role("link", name="All rows (4)").click()
    expect(rows).to_have_count(4)
