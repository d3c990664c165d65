"""A real Plaudit server with the console, over the demo project, and a headless Chromium.

The server runs in a thread on loopback (as `live_server` does) over a SQLite file loaded with
`load_demo`, plus one event whose comment is an attack. Browser tests drive Debian's Chromium
through Playwright; no browser is downloaded.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from plaudit.demo import load_demo
from plaudit.settings import Settings
from tests.conftest import free_port, make_tokens, serving

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
PASSWORD = "correct horse battery staple"
ATTACK = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
VIEWPORT = {"width": 1360, "height": 900}


@dataclass
class ConsoleServer:
    url: str
    admin_token: str
    attack_event: str
    attack_trace: str


def _send_attack(url: str, token: str) -> tuple[str, str]:
    """A 👎 with a hostile comment on a `search` trace; (event id, trace)."""
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"}) as client:
        query = {"name": "response-quality", "capability": "search", "limit": 1}
        listing = client.get("/v1/feedback", params=query)
        target = listing.json()["items"][0]
        event = {
            "id": "attack-comment", "trace_id": target["trace_id"], "span_id": target["span_id"],
            "name": "response-quality", "value": -1, "comment": ATTACK, "user_id": "mallory",
            "metadata": {"note": "</pre><script>window.__pwned = 3</script>"},
        }  # fmt: skip
        answer = client.post("/v1/feedback", json=event)
        assert answer.json()["results"][0]["status"] in ("created", "duplicate")
    return "attack-comment", target["trace_id"]


@pytest.fixture(scope="session")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('console') / 'plaudit.db'}"
    load_demo(database_url)
    admin, _, _ = make_tokens(database_url)
    port = free_port()
    settings = Settings(
        database_url=database_url, port=port, grpc_port=0, console_password=PASSWORD,
        cors_origins=("https://app.example",),
    )  # fmt: skip
    with serving(settings) as url:
        event_id, trace_id = _send_attack(url, admin)
        yield ConsoleServer(url, admin, event_id, trace_id)


# Package scope: Playwright's sync API keeps an event loop running in this thread, which must
# not outlive these tests (other tests in the same worker call asyncio.run).
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: scripts/test installs it"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def sign_in(page: Page, url: str, secret: str) -> None:
    """Sign in through the form, as a person would."""
    page.goto(f"{url}/login")
    page.get_by_label("Admin token or password").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/")


@pytest.fixture
def page(browser: Browser, console_server: ConsoleServer) -> Iterator[Page]:
    """A signed-in page, light theme, fixed viewport."""
    context = browser.new_context(viewport=VIEWPORT, color_scheme="light")
    tab = context.new_page()
    sign_in(tab, console_server.url, console_server.admin_token)
    yield tab
    context.close()
