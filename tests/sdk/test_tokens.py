"""`feedback_token(links)`: minted offline with a signing key, or asked of the server; either way
the browser can then send feedback on that one span with it."""

import asyncio

import httpx

import plaudit.sdk as plaudit
from plaudit.sdk import AsyncClient, Client
from plaudit.store.database import create_database_engine
from plaudit.store.signing_keys import create_signing_key
from tests.conftest import LiveServer, free_port
from tests.sdk.conftest import Errors


def signing_key(database_url: str) -> str:
    engine = create_database_engine(database_url)
    with engine.begin() as connection:
        text = create_signing_key(connection, "default", "sdk tests")[1]
    engine.dispose()
    return text


def browser_sends(live_server: LiveServer, token: str, event: dict[str, object]) -> httpx.Response:
    return httpx.post(
        f"{live_server.url}/v1/feedback", json=event, headers={"authorization": f"Bearer {token}"}
    )


def test_an_offline_token_needs_no_server_and_the_server_accepts_it(
    live_server: LiveServer, api: httpx.Client, unique: str, errors: Errors
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    key = signing_key(live_server.database_url)
    plaudit.init(url=live_server.url, token=live_server.admin_token, on_error=errors)
    offline = Client(unreachable, signing_key=key, project="default", on_error=errors)
    with plaudit.span("respond", capability="support-agent") as span:
        token = offline.feedback_token(span.links(), ttl=60, names=["quality"], user_id="u-5")
    assert token is not None and token.startswith("pft_")

    event = {"id": f"off-{unique}", "name": "quality", "value": "down", "comment": "wrong"}
    response = browser_sends(live_server, token, event)
    assert response.status_code == 200, response.text
    stored = api.get(f"/v1/feedback/off-{unique}").json()
    assert stored["span_id"] == span.links()["span_id"] and stored["user_id"] == "u-5"
    assert browser_sends(live_server, token, {"name": "stars", "value": 2}).status_code == 403
    assert errors.items == []


def test_without_a_key_the_server_mints_the_token(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    plaudit.init(url=live_server.url, token=live_server.admin_token)
    with plaudit.span("respond", capability="support-agent") as span:
        token = plaudit.feedback_token(span.links(), ttl=30)
    assert token is not None
    response = browser_sends(live_server, token, {"id": f"on-{unique}", "name": "copied"})
    assert response.json()["results"][0]["status"] == "created"
    assert api.get(f"/v1/feedback/on-{unique}").json()["trace_id"] == span.links()["trace_id"]


def test_the_token_names_the_conversation_of_its_links(
    live_server: LiveServer, api: httpx.Client, unique: str, errors: Errors
) -> None:
    """The browser sends the links' conversation with the token: both ways of minting allow it,
    and only it."""
    key = signing_key(live_server.database_url)
    offline = Client(live_server.url, signing_key=key, project="default", on_error=errors)
    plaudit.init(url=live_server.url, token=live_server.admin_token, on_error=errors)
    with plaudit.span("respond", conversation_id=f"conv-{unique}") as span:
        links = span.links()
        tokens = [offline.feedback_token(links, ttl=60), plaudit.feedback_token(links, ttl=60)]
    for index, token in enumerate(tokens):
        assert token is not None
        event = {"id": f"c{index}-{unique}", "name": "copied", "conversation_id": f"conv-{unique}"}
        assert browser_sends(live_server, token, event).status_code == 200
        stored = api.get(f"/v1/feedback/c{index}-{unique}").json()
        assert stored["conversation_id"] == f"conv-{unique}"
        other = {"name": "copied", "conversation_id": "someone-else"}
        assert browser_sends(live_server, token, other).status_code == 403
    assert errors.items == []


def test_the_async_client_asks_without_blocking_the_loop(live_server: LiveServer) -> None:
    links = {"trace_id": "7a" * 16, "span_id": "7b" * 8}

    async def app() -> str | None:
        async with AsyncClient(live_server.url, live_server.admin_token) as client:
            return await client.feedback_token(links, ttl=5)

    token = asyncio.run(app())
    assert token is not None
    assert browser_sends(live_server, token, {"name": "copied"}).status_code == 200
