"""The console in a real browser: the journey from overview to the trace, escaping, CSRF, keys."""

import re

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.console.conftest import ATTACK, PASSWORD, VIEWPORT, ConsoleServer, sign_in


def test_from_a_capability_to_the_span_behind_a_thumbs_down(
    page: Page, console_server: ConsoleServer
) -> None:
    url = console_server.url
    page.get_by_role("link", name="support-agent").first.click()
    expect(page).to_have_url(re.compile(r"/feedback\?capability=support-agent"))
    page.get_by_label("Name").fill("response-quality")
    page.get_by_label("Value").fill("-1")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"value=-1"))
    rows = page.locator("#events tbody tr[data-event]")
    expect(rows.first).to_be_visible()
    thumbs = page.locator("#events tbody .kind-thumb").all_inner_texts()
    assert thumbs and all("down" in text for text in thumbs)
    page.keyboard.press("j")
    expect(rows.first).to_have_class(re.compile("current"))
    event_id = rows.first.get_attribute("data-event")
    page.keyboard.press("Enter")
    panel = page.locator(f"#detail [data-detail='{event_id}']")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("response-quality")
    panel.get_by_role("link", name="View trace").click()
    expect(page).to_have_url(re.compile(rf"{url}/traces/[0-9a-f]{{32}}\?event="))
    marked = page.locator(".span.selected.has-feedback")
    expect(marked).to_have_count(1)
    expect(marked.locator(f"[data-feedback='{event_id}']")).to_be_visible()
    expect(page.locator(".waterfall .bar").first).to_be_visible()


def test_escape_closes_the_detail_and_k_moves_up(page: Page, console_server: ConsoleServer) -> None:
    page.goto(f"{console_server.url}/feedback?capability=search")
    rows = page.locator("#events tbody tr[data-event]")
    for key in ("j", "j", "k"):
        page.keyboard.press(key)
    expect(rows.nth(0)).to_have_class(re.compile("current"))
    page.keyboard.press("Enter")
    expect(page.locator("#detail .panel")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#detail .panel")).to_have_count(0)


def test_a_hostile_comment_shows_as_text(page: Page, console_server: ConsoleServer) -> None:
    page.goto(f"{console_server.url}/feedback?user=mallory&event={console_server.attack_event}")
    expect(page.locator("#detail .comment-full")).to_have_text(ATTACK)
    expect(page.locator("#events td.comment").first).to_contain_text("<script>")
    page.goto(f"{console_server.url}/traces/{console_server.attack_trace}?event=attack-comment")
    badge = page.locator(".span.selected [data-feedback='attack-comment'] .comment-full")
    expect(badge).to_have_text(ATTACK)
    assert page.evaluate("window.__pwned") is None


def test_the_password_signs_in_and_a_wrong_one_is_refused(
    browser: Browser, console_server: ConsoleServer
) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    tab.goto(f"{console_server.url}/query")
    expect(tab).to_have_url(re.compile(r"/login\?next=%2Fquery"))
    tab.get_by_label("Admin token or password").fill("wrong")
    tab.get_by_role("button", name="Sign in").click()
    expect(tab.get_by_role("alert")).to_have_text("Wrong token or password.")
    tab.get_by_label("Admin token or password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    expect(tab).to_have_url(f"{console_server.url}/query")
    tab.get_by_role("button", name="Sign out").click()
    expect(tab).to_have_url(re.compile(r"/login"))
    context.close()
    sign_in(browser.new_page(), console_server.url, console_server.admin_token)


def test_a_post_without_the_csrf_token_is_refused(
    page: Page, console_server: ConsoleServer
) -> None:
    url = console_server.url
    refused = page.request.post(f"{url}/settings/tokens", form={"name": "x", "scope": "read"})
    assert refused.status == 403
    forged = page.request.post(
        f"{url}/settings/tokens", form={"name": "x", "scope": "read", "csrf": "0" * 40}
    )
    assert forged.status == 403
    anonymous = httpx.post(f"{url}/login", data={"secret": PASSWORD, "next": "/"})
    assert anonymous.status_code == 403
    assert "plaudit_session" not in anonymous.cookies


def test_a_token_is_shown_once_then_revoked(page: Page, console_server: ConsoleServer) -> None:
    page.goto(f"{console_server.url}/settings")
    page.get_by_label("Name", exact=True).first.fill("console-test")
    page.get_by_label("read", exact=True).check()
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("New token (shown once)").input_value()
    assert secret.startswith("sk_")
    bearer = {"authorization": f"Bearer {secret}"}
    assert httpx.get(f"{console_server.url}/v1/tokens", headers=bearer).status_code == 403
    page.reload()
    expect(page.get_by_label("New token (shown once)")).to_have_count(0)
    page.get_by_role("button", name="Revoke token console-test").click()
    expect(page.get_by_role("status")).to_have_text("Token revoked.")
    assert httpx.get(f"{console_server.url}/v1/feedback", headers=bearer).status_code == 401


def test_a_feedback_config_is_declared_and_removed(
    page: Page, console_server: ConsoleServer
) -> None:
    page.goto(f"{console_server.url}/settings")
    page.locator("#c-name").fill("tone")
    page.locator("#c-kind").select_option("enum")
    page.locator("#c-values").fill("friendly, curt")
    page.get_by_role("button", name="Save config").click()
    expect(page.get_by_role("cell", name="friendly, curt")).to_be_visible()
    page.get_by_role("button", name="Remove config tone").click()
    expect(page.get_by_role("cell", name="friendly, curt")).to_have_count(0)


def test_the_pii_mode_is_chosen_in_settings(page: Page, console_server: ConsoleServer) -> None:
    page.goto(f"{console_server.url}/settings")
    page.get_by_label("PII in feedback text").select_option("flag")
    page.get_by_role("button", name="Save PII mode").click()
    expect(page.get_by_role("status")).to_have_text("PII mode is now flag.")
    page.reload()
    expect(page.get_by_label("PII in feedback text")).to_have_value("flag")
    page.get_by_label("PII in feedback text").select_option("redact")
    page.get_by_role("button", name="Save PII mode").click()
    expect(page.get_by_role("status")).to_have_text("PII mode is now redact.")


def test_a_query_draws_a_line_over_time_and_points_at_errors(
    page: Page, console_server: ConsoleServer
) -> None:
    page.goto(f"{console_server.url}/query?q=satisfaction%2C+count+by+capability%2C+day+since+14d")
    expect(page.locator("#query-chart canvas").first).to_be_visible()
    page.locator("#q").fill("count by capability where")
    page.get_by_role("button", name="Run").click()
    error = page.get_by_role("alert")
    expect(error).to_contain_text("position 25")
    expect(page.locator(".caret")).to_contain_text("count by capability where")
    page.locator("#q").fill("count by capability")
    page.get_by_role("button", name="Run").click()
    expect(page.locator("#query-chart canvas").first).to_be_visible()
    expect(page).to_have_url(re.compile(r"/query\?q=count"))


def test_the_theme_toggles_to_dark(page: Page) -> None:
    page.get_by_role("button", name="Switch between light and dark theme").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
