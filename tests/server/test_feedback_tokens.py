"""Per-span feedback tokens at the API: minting, and ingest refusing anything outside the token."""

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from plaudit.core.feedback_tokens import mint, new_claims, parse_signing_key
from plaudit.store.database import create_database_engine
from plaudit.store.signing_keys import create_signing_key, revoke_signing_key
from tests.conftest import LiveServer

TRACE, SPAN = "5bf92f3577b34da6a3ce929d0e0e4736", "10f067aa0ba902b7"


def mint_token(api: httpx.Client, **request: Any) -> str:
    response = api.post("/v1/feedback-tokens", json={"trace_id": TRACE, "span_id": SPAN} | request)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def post_with(live_server: LiveServer, token: str, body: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"}
    return httpx.post(f"{live_server.url}/v1/feedback", json=body, headers=headers, timeout=10)


def problem(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json")
    detail: str = response.json()["detail"]
    return detail


def test_minting_answers_a_token_and_its_exact_expiry(api: httpx.Client) -> None:
    before = datetime.now(UTC)
    response = api.post(
        "/v1/feedback-tokens", json={"trace_id": TRACE, "span_id": SPAN, "ttl_seconds": 90}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token"].startswith("pft_")
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert before + timedelta(seconds=89) <= expires <= datetime.now(UTC) + timedelta(seconds=90)


@pytest.mark.parametrize(
    "body",
    [{"trace_id": TRACE}, {"trace_id": "xyz", "span_id": SPAN},
     {"trace_id": TRACE, "span_id": SPAN, "ttl_seconds": 0},
     {"trace_id": TRACE, "span_id": SPAN, "color": "red"},
     {"trace_id": TRACE, "span_id": SPAN, "user_id": "u\u0000"},
     {"trace_id": TRACE, "span_id": SPAN, "names": ["a\u0000"]}],
)  # fmt: skip
def test_minting_refuses_bad_requests(api: httpx.Client, body: dict[str, Any]) -> None:
    assert api.post("/v1/feedback-tokens", json=body).status_code == 422


def test_only_secret_tokens_with_feedback_write_may_mint(live_server: LiveServer) -> None:
    body = {"trace_id": TRACE, "span_id": SPAN}
    for token in (live_server.browser_token, live_server.otlp_token):
        with live_server.client(token) as client:
            response = client.post("/v1/feedback-tokens", json=body)
        assert response.status_code == 403, response.text


def test_the_right_feedback_is_accepted_and_stored_as_end_user(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    token = mint_token(api, names=["quality"], user_id="u-1")
    event = {"id": f"pft-{unique}", "name": "quality", "value": "up", "source": "annotator"}
    response = post_with(live_server, token, event)
    assert response.status_code == 200, response.text
    assert response.json()["results"] == [{"id": f"pft-{unique}", "status": "created"}]
    stored = api.get(f"/v1/feedback/pft-{unique}").json()
    assert (stored["trace_id"], stored["span_id"]) == (TRACE, SPAN)  # filled from the token
    assert stored["user_id"] == "u-1" and stored["source"] == "end_user"


def test_a_beacon_body_may_carry_the_feedback_token(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    token = mint_token(api)
    body = f'{{"token": "{token}", "feedback": [{{"id": "b-{unique}", "name": "copied"}}]}}'
    response = httpx.post(
        f"{live_server.url}/v1/feedback", content=body, headers={"content-type": "text/plain"}
    )
    assert response.json()["results"][0]["status"] == "created"
    assert api.get(f"/v1/feedback/b-{unique}").json()["span_id"] == SPAN


@pytest.mark.parametrize(
    ("event", "why"),
    [
        ({"name": "quality", "value": 1, "span_id": "20f067aa0ba902b7"}, "span"),
        ({"name": "quality", "value": 1, "trace_id": "6" * 32}, "trace"),
        ({"name": "stars", "value": 4}, "names"),
        ({"name": "quality", "value": 1, "user_id": "u-2"}, "user"),
        ({"feedback": [{"name": "quality"}, {"name": "quality", "span_id": "3" * 16}]}, "item 1"),
        # present-but-null is missing: it neither escapes the binding nor opens another target
        ({"name": "quality", "span_id": None, "conversation_id": "victim"}, "conversation"),
        (
            {
                "name": "quality",
                "span_id": None,
                "trace_id": None,
                "traceparent": None,
                "conversation_id": "victim",
            },
            "conversation",
        ),
        ({"name": "quality", "response_id": "chatcmpl-victim"}, "response"),
        ({"name": None, "value": 1}, "names"),
    ],
)
def test_feedback_outside_the_token_is_refused_403(
    live_server: LiveServer, api: httpx.Client, event: dict[str, Any], why: str
) -> None:
    token = mint_token(api, names=["quality"], user_id="u-1")
    response = post_with(live_server, token, event)
    assert response.status_code == 403
    assert why in problem(response)


def test_expired_tampered_and_revoked_tokens_are_refused_401(
    live_server: LiveServer, api: httpx.Client
) -> None:
    short = mint_token(api, ttl_seconds=1)
    deadline = time.monotonic() + 30  # it expires one second after minting: poll, not sleep
    while (expired := post_with(live_server, short, {"name": "quality", "value": 1})).is_success:
        assert time.monotonic() < deadline, "a token with a 1 s lifetime never expired"
        time.sleep(0.05)
    assert expired.status_code == 401 and "expired" in problem(expired)

    signature = mint_token(api).split(".")[1]
    longer = mint_token(api, ttl_seconds=7200).split(".")[0]
    tampered = post_with(live_server, f"{longer}.{signature}", {"name": "q"})
    assert tampered.status_code == 401 and "altered" in problem(tampered)
    garbage = post_with(live_server, "pft_garbage", {"name": "q"})
    assert garbage.status_code == 401 and "feedback token" in problem(garbage)

    engine = create_database_engine(live_server.database_url)
    with engine.begin() as connection:
        key_id, text = create_signing_key(connection, "default", "to revoke")
    secret = parse_signing_key(text)[1]
    offline = mint(key_id, secret, new_claims("default", TRACE, SPAN, ttl_seconds=60))
    with engine.begin() as connection:
        assert revoke_signing_key(connection, key_id)
    engine.dispose()
    revoked = post_with(live_server, offline, {"name": "q"})
    assert revoked.status_code == 401 and "revoked" in problem(revoked)


def test_a_feedback_token_opens_nothing_else(live_server: LiveServer, api: httpx.Client) -> None:
    token = mint_token(api)
    headers = {"authorization": f"Bearer {token}"}
    for method, path in (("GET", "/v1/feedback"), ("PATCH", f"/v1/spans/{SPAN}"),
                         ("POST", "/v1/feedback-tokens")):  # fmt: skip
        response = httpx.request(
            method, f"{live_server.url}{path}", headers=headers, json={"trace_id": TRACE}
        )
        assert response.status_code == 401, (path, response.text)


def test_null_targets_are_filled_from_the_token(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    token = mint_token(api, user_id="u-1")
    event = {"id": f"null-{unique}", "name": "quality", "value": 1, "span_id": None,
             "trace_id": None, "traceparent": None, "user_id": None,
             "conversation_id": None}  # fmt: skip
    response = post_with(live_server, token, event)
    assert response.status_code == 200, response.text
    stored = api.get(f"/v1/feedback/null-{unique}").json()
    assert (stored["trace_id"], stored["span_id"], stored["user_id"]) == (TRACE, SPAN, "u-1")
    assert stored["conversation_id"] is None


def test_a_token_may_name_the_conversation_of_its_span(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    token = mint_token(api, conversation_id="conv-7")
    mine = {"id": f"conv-{unique}", "name": "quality", "value": 1, "conversation_id": "conv-7"}
    assert post_with(live_server, token, mine).json()["results"][0]["status"] == "created"
    filled = {"id": f"conv2-{unique}", "name": "quality", "value": 1}
    assert post_with(live_server, token, filled).status_code == 200
    assert api.get(f"/v1/feedback/conv2-{unique}").json()["conversation_id"] == "conv-7"
    other = {"name": "quality", "value": 1, "conversation_id": "conv-8"}
    refused = post_with(live_server, token, other)
    assert refused.status_code == 403 and "conversation" in problem(refused)
