"""Console sessions end when their token is revoked and when they sign out (issue 11, item 4).

A copied session cookie used to keep working after both, and could still mint admin tokens on
/settings. Runs on SQLite and PostgreSQL against a real server.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from plaudit.settings import Settings
from tests.conftest import LiveServer, free_port, make_tokens, serving

PASSWORD = "a console password"


@pytest.fixture(scope="module")
def console(database_url: str) -> Iterator[LiveServer]:
    """A server with the console password set, over the module's database."""
    admin, browser, otlp = make_tokens(database_url)
    settings = Settings(database_url=database_url, port=free_port(), console_password=PASSWORD)
    with serving(settings) as url:
        yield LiveServer(url, database_url, admin, browser, otlp)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, "the page has no CSRF field"
    return found.group(1)


@contextmanager
def _sign_in(url: str, secret: str) -> Iterator[httpx.Client]:
    """A client signed in through the form, holding the session cookie."""
    with httpx.Client(base_url=url, timeout=30) as client:
        form = client.get("/login")
        fields = {"secret": secret, "next": "/", "csrf": _csrf(form.text)}
        answer = client.post("/login", data=fields)
        assert answer.status_code == 303 and "plaudit_session" in client.cookies
        yield client


def _new_admin_token(console: LiveServer) -> tuple[str, str]:
    with console.client() as api:
        made = api.post("/v1/tokens", json={"scopes": ["admin"], "name": "console"})
    assert made.status_code == 201
    return made.json()["id"], made.json()["token"]


def _replay(url: str, cookie: str) -> httpx.Client:
    """A fresh client that only holds a copy of a session cookie."""
    return httpx.Client(base_url=url, timeout=30, cookies={"plaudit_session": cookie})


def _token_count(console: LiveServer) -> int:
    with console.client() as api:
        return len(api.get("/v1/tokens").json()["items"])


def test_revoking_the_token_ends_its_sessions(dialect: str, console: LiveServer) -> None:
    token_id, secret = _new_admin_token(console)
    with _sign_in(console.url, secret) as client:
        settings = client.get("/settings")
        assert settings.status_code == 200
        csrf = _csrf(settings.text)
        with console.client() as api:
            assert api.delete(f"/v1/tokens/{token_id}").status_code == 204
        after = client.get("/settings")
        assert after.status_code == 303 and after.headers["location"].startswith("/login")
        before = _token_count(console)
        minted = client.post("/settings/tokens", data={"scope": "admin", "csrf": csrf})
        assert minted.status_code == 303
        assert _token_count(console) == before


def test_revoking_in_the_console_ends_the_console_session(
    dialect: str, console: LiveServer
) -> None:
    token_id, secret = _new_admin_token(console)
    with _sign_in(console.url, secret) as client:
        csrf = _csrf(client.get("/settings").text)
        revoked = client.post(f"/settings/tokens/{token_id}/revoke", data={"csrf": csrf})
        assert revoked.status_code == 200
        assert client.get("/").status_code == 303


def test_a_signed_out_cookie_no_longer_works(dialect: str, console: LiveServer) -> None:
    with _sign_in(console.url, console.admin_token) as client:
        cookie = client.cookies["plaudit_session"]
        csrf = _csrf(client.get("/settings").text)
        assert client.post("/logout", data={"csrf": csrf}).status_code == 303
    with _replay(console.url, cookie) as thief:
        assert thief.get("/settings").status_code == 303
        before = _token_count(console)
        minted = thief.post("/settings/tokens", data={"scope": "admin", "csrf": csrf})
        assert minted.status_code == 303
        assert _token_count(console) == before


def test_a_password_session_works_until_signed_out(dialect: str, console: LiveServer) -> None:
    with _sign_in(console.url, PASSWORD) as client:
        cookie = client.cookies["plaudit_session"]
        page = client.get("/settings")
        assert page.status_code == 200
        assert client.post("/logout", data={"csrf": _csrf(page.text)}).status_code == 303
    with _replay(console.url, cookie) as thief:
        assert thief.get("/").status_code == 303
