"""Dev mode lets in this machine's pages only (issue 11, item 7).

`plaudit demo` serves without tokens on loopback. It used to reflect any Origin and accept any
Host, so a web page open in the developer's browser (or a DNS-rebinding name pointing at
127.0.0.1) could call it as an admin and mint tokens.
"""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from plaudit.settings import Settings
from tests.conftest import free_port, serving


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    database = Path(tmp_path_factory.mktemp("dev")) / "plaudit.db"
    with serving(Settings(database_url=f"sqlite:///{database}", port=free_port(), dev=True)) as url:
        yield url


@pytest.mark.parametrize(
    "origin", ["http://localhost:5173", "http://127.0.0.1:3000", "http://[::1]:8080"]
)
def test_loopback_origins_are_allowed(dev_server: str, origin: str) -> None:
    answer = httpx.get(f"{dev_server}/v1/tokens", headers={"origin": origin})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == origin
    preflight = httpx.options(
        f"{dev_server}/v1/tokens",
        headers={"origin": origin, "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == origin


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://localhost.evil.example", "null",
               "http://127.0.0.1.evil.example:80"],
)  # fmt: skip
def test_foreign_origins_are_refused(dev_server: str, origin: str) -> None:
    preflight = httpx.options(
        f"{dev_server}/v1/tokens",
        headers={"origin": origin, "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    # A "simple" request needs no preflight: the browser sends it, so the server must refuse it.
    minted = httpx.post(
        f"{dev_server}/v1/tokens", headers={"origin": origin}, json={"scopes": ["admin"]}
    )
    assert minted.status_code == 403
    assert minted.headers["content-type"].startswith("application/problem+json")
    assert "access-control-allow-origin" not in minted.headers


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "rebind.127.0.0.1.nip.io"])
def test_foreign_host_names_are_refused(dev_server: str, host: str) -> None:
    answer = httpx.post(
        f"{dev_server}/v1/tokens", headers={"host": host}, json={"scopes": ["admin"]}
    )
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert httpx.get(f"{dev_server}/settings", headers={"host": host}).status_code == 403


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST:1"])
def test_loopback_host_names_are_served(dev_server: str, host: str) -> None:
    assert httpx.get(f"{dev_server}/v1/tokens", headers={"host": host}).status_code == 200
