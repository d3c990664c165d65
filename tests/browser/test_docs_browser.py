"""docs/browser.md: every html snippet runs in Chromium and stores what it promises."""

import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import Demo, wait_for_feedback
from tests.conftest import repo_root

DOC = repo_root() / "docs" / "browser.md"
DOC_URL = "http://127.0.0.1:8000"
DOC_TOKEN = "pk_live_browser_token"
DOC_TRACE, DOC_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


class Site:
    """The app the snippets belong to: serves one page and answers `POST /api/chat`."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.html = ""
        self.reply: dict[str, Any] = {}

    def new_answer(self) -> dict[str, str]:
        """Fresh ids, and the reply `/api/chat` gives with them (a token for that span)."""
        links = {"trace_id": secrets.token_hex(16), "span_id": secrets.token_hex(8)}
        with self.demo.api() as api:
            token = api.post("/v1/feedback-tokens", json=links).json()["token"]
        self.reply = {"answer": "Refunds take a week.", "links": links, "feedback_token": token}
        return links

    def handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.answer("text/html", site.html.encode())

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.answer("application/json", json.dumps(site.reply).encode())

            def answer(self, media: str, body: bytes) -> None:
                self.send_response(200)
                self.send_header("content-type", media)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture(scope="module")
def site(demo: Demo) -> Iterator[Site]:
    site = Site(demo)
    port = int(demo.pages_url.rsplit(":", 1)[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), site.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()


def open_snippet(page: Page, site: Site, html: str) -> dict[str, str]:
    """Serve `html` with the docs' placeholders made real; answers the answer's links."""
    links = site.new_answer()
    site.html = (
        html.replace(DOC_URL, site.demo.url)
        .replace(DOC_TOKEN, site.demo.browser_token)
        .replace(DOC_TRACE, links["trace_id"])
        .replace(DOC_SPAN, links["span_id"])
    )
    page.goto(site.demo.pages_url + "/")
    return links


def test_the_docs_have_three_runnable_pages_and_valid_python() -> None:
    assert len(blocks("html")) == 3
    for source in blocks("python"):
        compile(source, "docs/browser.md", "exec")


def run_and_check(
    page: Page, site: Site, index: int, act: Callable[[Page], None], expected: list[Any]
) -> None:
    links = open_snippet(page, site, blocks("html")[index])
    act(page)
    want = sorted((*e, links["trace_id"]) for e in expected)
    deadline = time.monotonic() + 15
    with site.demo.api() as api:
        # Polled until equal: a revision (👍 then 👎) may land after the first version is seen.
        while True:
            items = wait_for_feedback(api, len(expected), span_id=links["span_id"])
            got = sorted((e["name"], e["kind"], e.get("value"), e["trace_id"]) for e in items)
            if got == want or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert got == want


def test_way_1_links_in_the_json_response(page: Page, site: Site) -> None:
    def act(page: Page) -> None:
        page.click("#up:enabled")
        page.click("#down")

    run_and_check(page, site, 0, act, [("helpful", "thumb", -1)])


def test_way_2_a_data_attribute_in_server_rendered_html(page: Page, site: Site) -> None:
    def act(page: Page) -> None:
        # Module scripts run before `load`, which `goto` waits for: the handler is in place.
        page.click(".stars")
        page.click(".copy")

    run_and_check(page, site, 1, act, [("stars", "number", 5), ("copy", "signal", None)])


def test_way_3_a_per_span_token(page: Page, site: Site) -> None:
    run_and_check(
        page,
        site,
        2,
        lambda page: page.click("#send:enabled"),
        [("comment", "text", "It missed the weekend.")],
    )
