"""The chat demo answering through Plaudit's proxy: 👎 in Chromium lands on the proxy's span.

The model is the fake OpenAI-compatible upstream of the proxy tests (the one part not ours),
configured as upstream `fake` like `PLAUDIT_PROXY_UPSTREAMS=fake=http://…/v1` would.
"""

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser.conftest import Demo, plaudit_serving, wait_for_feedback, wait_until_up
from tests.conftest import free_port, repo_root, serving_app
from tests.proxy.conftest import find_span
from tests.proxy.fake_upstream import FakeUpstream


def stored_span(api: httpx.Client, trace_id: str, span_id: str) -> dict[str, Any]:
    """The span once stored (the proxy stores it just after the answer)."""
    deadline = time.monotonic() + 15
    while True:
        answer = api.get(f"/v1/traces/{trace_id}")
        if answer.status_code == 200 and (found := find_span(answer.json()["spans"], span_id)):
            return found
        assert time.monotonic() < deadline, f"span {span_id} was not stored"
        time.sleep(0.05)


@dataclass
class ProxiedDemo:
    demo: Demo
    upstream: FakeUpstream


@pytest.fixture(scope="module")
def proxied_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxiedDemo]:
    upstream = FakeUpstream()
    upstream_port = free_port()
    stack = ExitStack()
    stack.enter_context(serving_app(upstream, upstream_port))
    chat_port = free_port()
    chat_url = f"http://127.0.0.1:{chat_port}"
    url, (admin, browser, _) = stack.enter_context(
        plaudit_serving(
            tmp_path_factory,
            (chat_url,),
            proxy_upstreams={"fake": f"http://127.0.0.1:{upstream_port}/v1"},
        )
    )
    chat = subprocess.Popen(
        [sys.executable, "-m", "examples.chat", "--plaudit-url", url, "--token", admin,
         "--port", str(chat_port), "--proxy-url", f"{url}/proxy/fake", "--model", "fake-model",
         "--provider-key", "sk-provider-demo"],
        cwd=repo_root(),
    )  # fmt: skip
    try:
        wait_until_up(f"{chat_url}/healthz", chat)
        yield ProxiedDemo(Demo(url, chat_url, chat_url, admin, browser), upstream)
    finally:
        chat.terminate()
        chat.wait(timeout=20)
        stack.close()


def test_a_thumb_down_lands_on_the_proxied_span(page: Page, proxied_demo: ProxiedDemo) -> None:
    demo = proxied_demo.demo
    page.goto(demo.chat_url)
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#message", "What is the capital of France?")
    page.click("#ask button")
    card = page.locator("article.answer").first
    card.wait_for()
    assert card.locator(".text").inner_text() == "Paris is the capital of France."
    span_id, trace_id = card.get_attribute("data-span-id"), card.get_attribute("data-trace-id")
    assert span_id and trace_id

    # The span the page rates is the one the proxy named in Plaudit-Span-Id: the proxy sent the
    # upstream a traceparent with that very span id.
    seen = [s for s in proxied_demo.upstream.seen if s.path.endswith("/chat/completions")]
    assert seen[-1].headers["traceparent"].split("-")[1:3] == [trace_id, span_id]
    assert seen[-1].headers["authorization"] == "Bearer sk-provider-demo"

    card.locator(".down").click()
    page.wait_for_function("window.plaudit.pending() === 0")
    with demo.api() as api:
        items = wait_for_feedback(api, 1, span_id=span_id)
        assert [(e["name"], e["kind"], e["value"]) for e in items] == [
            ("response-quality", "thumb", -1)
        ]
        event = items[0]
        assert event["span_id"] == span_id
        assert event["trace_id"] == trace_id
        assert event["source"] == "end_user"
        assert event["capability"] == "chat"
        assert event["user_id"].startswith("user-")

        proxied = stored_span(api, trace_id, span_id)
        assert proxied["attributes"]["plaudit.proxy.upstream"] == "fake"
        assert proxied["attributes"]["gen_ai.operation.name"] == "chat"
        assert proxied["attributes"]["enduser.id"] == event["user_id"]
    assert page.evaluate("window.feedbackErrors.length") == 0
