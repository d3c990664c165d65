"""The browser client's stored queue across tabs: what each tab left waiting reaches the server."""

import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page

from tests.browser.conftest import Demo, wait_for_feedback

# Beacons are taken out of play (`sendBeacon` refuses): Chromium's offline emulation does not
# always stop them, and this test is about what the stored queue alone delivers.
PAGE = """<!doctype html>
<html><body><script type="module">
import { createFeedbackClient, Feedback } from "PLAUDIT/sdk/plaudit-feedback.js";
window.Feedback = Feedback;
window.plaudit = createFeedbackClient(
  { url: "PLAUDIT", token: "TOKEN" }, { sendBeacon: () => false },
);
document.body.dataset.ready = "true";
</script></body></html>
"""


@pytest.fixture(scope="module")
def page_url(demo: Demo) -> Iterator[str]:
    """The page, served from loopback at an origin the server allows (Chromium lets only a
    loopback page reach a loopback server)."""
    body = PAGE.replace("PLAUDIT", demo.url).replace("TOKEN", demo.browser_token).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    port = int(demo.pages_url.rsplit(":", 1)[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"{demo.pages_url}/two-tabs"
    server.shutdown()
    server.server_close()


def open_tab(context: BrowserContext, url: str) -> Page:
    tab = context.new_page()
    tab.goto(url)
    tab.wait_for_selector("body[data-ready=true]", state="attached")
    return tab


def test_two_tabs_closed_offline_both_deliver_from_the_next_page(
    context: BrowserContext, demo: Demo, page_url: str
) -> None:
    url = page_url
    trace = secrets.token_hex(16)
    tabs = [open_tab(context, url) for _ in range(2)]
    context.set_offline(True)
    for number, tab in enumerate(tabs):
        tab.evaluate(
            "([trace, name]) => window.plaudit.sendFeedback("
            "{ trace_id: trace }, window.Feedback.thumbUp({ name }))",
            [trace, f"tab-{number}"],
        )
        tab.wait_for_function("window.plaudit.pending() === 1")
    for tab in tabs:
        with tab.expect_event("close"):  # run_before_unload: pagehide runs as on a real close
            tab.close(run_before_unload=True)

    context.set_offline(False)
    open_tab(context, url)  # the next page sends what both tabs left
    with demo.api() as api:
        items = wait_for_feedback(api, 2, trace_id=trace)
    assert sorted(e["name"] for e in items) == ["tab-0", "tab-1"]
