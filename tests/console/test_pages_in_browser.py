"""Every page in Chromium: no serious or critical axe-core violations, and its screenshot.

axe-core comes from npm into tests/console/node_modules (`npm ci` there; test-only, never served).
Screenshots of the demo data, light theme, fixed viewport, go to a temporary folder; with
`--update-screenshots` (`python -m tests.console.screenshots`) they replace docs/images/<page>.png,
the pictures in docs/console.md and the README.
"""

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.console.conftest import VIEWPORT, ConsoleServer, sign_in

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
QUERY = "satisfaction, count by capability, day since 14d"


def _unhappy_event(server: ConsoleServer) -> dict[str, Any]:
    """A 👎 with a comment on support-agent: the demo's story."""
    headers = {"authorization": f"Bearer {server.admin_token}"}
    params = {"capability": "support-agent", "name": "response-quality", "limit": 200}
    items = httpx.get(f"{server.url}/v1/feedback", params=params, headers=headers).json()["items"]
    return next(e for e in items if e["value"] == -1 and e["comment"])


def _paths(server: ConsoleServer) -> dict[str, str]:
    event = _unhappy_event(server)
    return {
        "overview": "/",
        "feedback": f"/feedback?capability=support-agent&event={event['id']}",
        "trace": f"/traces/{event['trace_id']}?event={event['id']}",
        "query": f"/query?q={QUERY}",
        "traces": "/traces?since=30d",
        "conversation": f"/conversations/{event.get('conversation_id') or 'demo-conv-0109'}",
        "user": f"/users/{event['user_id']}",
        "settings": "/settings",
        "login": "/login",
    }


@pytest.fixture(scope="module")
def signed_in_page(browser: Browser, console_server: ConsoleServer) -> Any:
    if not AXE.exists():
        pytest.fail(f"axe-core is missing: run `npm ci` in {AXE.parents[2]}")
    # bypass_csp: the console's CSP forbids inline scripts, which is how axe is injected.
    context = browser.new_context(viewport=VIEWPORT, color_scheme="light", bypass_csp=True)
    page = context.new_page()
    sign_in(page, console_server.url, console_server.admin_token)
    yield page
    context.close()


def _violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))"
    )
    return [
        f"{v['impact']}: {v['id']} at {v['nodes'][:3]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def images(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Where screenshots go: docs/images only when asked to refresh them."""
    return IMAGES if request.config.getoption("--update-screenshots") else tmp_path


@pytest.mark.parametrize(
    "name",
    ["overview", "feedback", "trace", "query", "settings", "login", "traces", "conversation",
     "user"],
)  # fmt: skip
def test_page_is_accessible_and_pictured(
    name: str, signed_in_page: Page, console_server: ConsoleServer, browser: Browser, images: Path
) -> None:
    page = signed_in_page
    if name == "login":
        context = browser.new_context(viewport=VIEWPORT, color_scheme="light", bypass_csp=True)
        page = context.new_page()
    page.goto(console_server.url + _paths(console_server)[name])
    page.wait_for_load_state("networkidle")
    assert _violations(page) == []
    images.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(images / f"{name}.png"))
    assert (images / f"{name}.png").stat().st_size > 0
    if name == "login":
        page.context.close()


@pytest.mark.parametrize("name", ["overview", "trace", "traces", "conversation", "user"])
def test_dark_theme_is_accessible(
    name: str, signed_in_page: Page, console_server: ConsoleServer
) -> None:
    page = signed_in_page
    page.goto(console_server.url + _paths(console_server)[name])
    page.evaluate("document.documentElement.dataset.theme = 'dark'")
    assert _violations(page) == []
    page.evaluate("delete document.documentElement.dataset.theme")
