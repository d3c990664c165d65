"""A Plaudit server, the chat demo beside it, and Debian's Chromium driven by Playwright.

The server allows the chat demo's origin and the docs pages' origin as its default browser
origins, like a deployment naming its app in `PLAUDIT_CORS_ORIGINS`. Playwright never downloads
a browser here: it drives /usr/bin/chromium.
"""

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from plaudit.settings import Settings
from tests.conftest import free_port, make_tokens, repo_root, serving

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Demo:
    """The servers of the browser tests and their tokens."""

    url: str
    chat_url: str
    pages_url: str
    admin_token: str
    browser_token: str

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"authorization": f"Bearer {self.admin_token}"}, timeout=30
        )


@contextmanager
def plaudit_serving(
    tmp_path_factory: pytest.TempPathFactory, origins: tuple[str, ...], **limits: Any
) -> Iterator[tuple[str, tuple[str, str, str]]]:
    """A Plaudit server on a fresh SQLite database while the block runs: (url, tokens)."""
    database_url = f"sqlite:///{tmp_path_factory.mktemp('browser-db') / 'plaudit.db'}"
    tokens = make_tokens(database_url)
    port = free_port()
    settings = Settings(database_url=database_url, port=port, cors_origins=origins, **limits)
    with serving(settings) as url:
        yield url, tokens


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the chat demo exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the chat demo did not start")


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """Plaudit on loopback plus the chat demo (a subprocess, as a user would run it)."""
    chat_port, pages_port = free_port(), free_port()
    chat_url, pages_url = f"http://127.0.0.1:{chat_port}", f"http://127.0.0.1:{pages_port}"
    with plaudit_serving(
        tmp_path_factory,
        (chat_url, pages_url),
        rate_limit_ip_per_second=100.0,
        rate_limit_ip_burst=1000,
    ) as (url, (admin, browser, _)):
        chat = subprocess.Popen(
            [sys.executable, "-m", "examples.chat", "--plaudit-url", url, "--token", admin,
             "--port", str(chat_port)],
            cwd=repo_root(),
        )  # fmt: skip
        try:
            wait_until_up(f"{chat_url}/healthz", chat)
            yield Demo(url, chat_url, pages_url, admin, browser)
        finally:
            chat.terminate()
            chat.wait(timeout=20)


# Package scope: Playwright's sync API keeps an event loop running in this thread, which must
# not outlive these tests (other tests in the same worker call asyncio.run).
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (empty localStorage) per test."""
    context = browser.new_context()
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def wait_for_feedback(
    api: httpx.Client, count: int, timeout: float = 15, **filters: str
) -> list[dict[str, Any]]:
    """The feedback matching `filters` once there are at least `count` events."""
    deadline = time.monotonic() + timeout
    while True:
        items: list[dict[str, Any]] = api.get("/v1/feedback", params=filters).json()["items"]
        if len(items) >= count or time.monotonic() > deadline:
            return items
        time.sleep(0.1)
