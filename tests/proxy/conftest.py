"""A fake upstream provider and a Plaudit server proxying to it, both on loopback."""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from plaudit.settings import Settings
from tests.conftest import free_port, make_tokens, serving, serving_app
from tests.proxy.fake_upstream import FakeUpstream

PROXY_TIMEOUT = 1.5
PROVIDER_KEY = "sk-provider-secret-4c2a9e7f1b3d5a6c8e0f"


@dataclass
class ProxyServer:
    """Plaudit on loopback with upstream `fake`, and the tokens of its `default` project."""

    url: str
    database_url: str
    admin_token: str
    traces_token: str
    browser_token: str
    upstream: FakeUpstream
    upstream_url: str

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as `base_url`."""
        return f"{self.url}/proxy/fake"

    def plaudit_headers(self, **extra: str) -> dict[str, str]:
        return {"Plaudit-Auth": f"Bearer {self.traces_token}", **extra}

    def api(self) -> httpx.Client:
        headers = {"authorization": f"Bearer {self.admin_token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def span(self, trace_id: str, span_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The stored span (it is stored just after the answer is sent: wait for it)."""
        deadline = time.monotonic() + timeout
        with self.api() as api:
            while True:
                answer = api.get(f"/v1/traces/{trace_id}")
                if answer.status_code == 200:
                    found = find_span(answer.json()["spans"], span_id)
                    if found is not None:
                        return found
                if time.monotonic() > deadline:
                    raise AssertionError(f"span {span_id} of trace {trace_id} was not stored")
                time.sleep(0.02)


def find_span(spans: list[dict[str, Any]], span_id: str) -> dict[str, Any] | None:
    for span in spans:
        if span["span_id"] == span_id:
            return span
        if (found := find_span(span["children"], span_id)) is not None:
            return found
    return None


@pytest.fixture(scope="module")
def fake_upstream() -> Iterator[tuple[FakeUpstream, str]]:
    upstream = FakeUpstream()
    with serving_app(upstream, free_port()) as url:
        yield upstream, url


@pytest.fixture(scope="module")
def proxy_server(
    database_url: str, fake_upstream: tuple[FakeUpstream, str]
) -> Iterator[ProxyServer]:
    upstream, upstream_url = fake_upstream
    admin, browser, otlp = make_tokens(database_url)
    port = free_port()
    settings = Settings(
        database_url=database_url,
        port=port,
        grpc_port=0,
        proxy_upstreams={
            "fake": f"{upstream_url}/v1",
            "openai": f"{upstream_url}/v1",  # the name docs/proxy.md uses
            "nowhere": f"http://127.0.0.1:{free_port()}",
        },
        proxy_timeout=PROXY_TIMEOUT,
    )
    with serving(settings) as url:
        yield ProxyServer(url, database_url, admin, otlp, browser, upstream, upstream_url)
