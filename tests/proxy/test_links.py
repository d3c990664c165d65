"""Plaudit-* headers link the proxied span; its ids and token come back; feedback rides along."""

import secrets

import httpx
import openai

from tests.proxy.conftest import PROVIDER_KEY, ProxyServer

MESSAGES = [{"role": "user", "content": "Summarise my ticket"}]


def chat(proxy: ProxyServer, **headers: str) -> httpx.Response:
    client = openai.OpenAI(
        base_url=proxy.base_url,
        api_key=PROVIDER_KEY,
        default_headers=proxy.plaudit_headers(**headers),
        max_retries=0,
    )
    raw = client.chat.completions.with_raw_response.create(
        model="fake-model",
        messages=MESSAGES,  # type: ignore[arg-type]
    )
    return raw.http_response


def test_headers_link_the_span_to_the_apps_trace(proxy_server: ProxyServer) -> None:
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    answer = chat(
        proxy_server,
        traceparent=f"00-{trace_id}-{parent}-01",
        **{
            "Plaudit-Capability": "support-agent",
            "Plaudit-Step": "respond",
            "Plaudit-Conversation-Id": "conv-7",
            "Plaudit-User-Id": "user-42",
        },
    )
    assert answer.headers["plaudit-trace-id"] == trace_id
    span_id = answer.headers["plaudit-span-id"]
    span = proxy_server.span(trace_id, span_id)
    assert span["parent_span_id"] == parent
    assert (span["capability"], span["step"]) == ("support-agent", "respond")
    assert (span["conversation_id"], span["user_id"]) == ("conv-7", "user-42")
    assert "plaudit-feedback-token" not in answer.headers


def test_a_per_span_token_lets_the_browser_rate_that_answer(proxy_server: ProxyServer) -> None:
    answer = chat(proxy_server, **{"Plaudit-Feedback-Token": "request"})
    trace_id, span_id = answer.headers["plaudit-trace-id"], answer.headers["plaudit-span-id"]
    token = answer.headers["plaudit-feedback-token"]
    assert token.startswith("pft_")
    sent = httpx.post(
        f"{proxy_server.url}/v1/feedback",
        json={"name": "response-quality", "value": "down", "comment": "wrong"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["results"][0]["status"] == "created"
    proxy_server.span(trace_id, span_id)
    with proxy_server.api() as api:
        (event,) = api.get("/v1/feedback", params={"span_id": span_id}).json()["items"]
    assert (event["trace_id"], event["value"], event["source"]) == (trace_id, -1, "end_user")
    assert event["link_status"] == "linked"


def test_the_token_names_the_calls_user_and_conversation(proxy_server: ProxyServer) -> None:
    """The browser client sends the links' conversation with the feedback, as for SDK spans."""
    answer = chat(
        proxy_server,
        **{"Plaudit-Feedback-Token": "request", "Plaudit-User-Id": "user-5",
           "Plaudit-Conversation-Id": "conv-12"},
    )  # fmt: skip
    span_id, token = answer.headers["plaudit-span-id"], answer.headers["plaudit-feedback-token"]

    def send(**fields: str) -> httpx.Response:
        return httpx.post(
            f"{proxy_server.url}/v1/feedback",
            json={"name": "helpful", "value": "up", "span_id": span_id, **fields},
            headers={"authorization": f"Bearer {token}"},
        )

    sent = send(conversation_id="conv-12", user_id="user-5")
    assert sent.status_code == 200, sent.text
    assert sent.json()["results"][0]["status"] == "created"
    assert send(conversation_id="conv-other").status_code == 403
    with proxy_server.api() as api:
        (event,) = api.get("/v1/feedback", params={"span_id": span_id}).json()["items"]
    assert (event["conversation_id"], event["user_id"]) == ("conv-12", "user-5")


def test_a_token_for_an_overlong_conversation_is_refused(proxy_server: ProxyServer) -> None:
    answer = httpx.post(
        f"{proxy_server.base_url}/chat/completions",
        json={"model": "fake-model", "messages": MESSAGES},
        headers=proxy_server.plaudit_headers(
            **{"Plaudit-Feedback-Token": "request", "Plaudit-Conversation-Id": "c" * 5000}
        ),
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert "Plaudit-Conversation-Id" in answer.json()["detail"]


def test_plaudit_feedback_on_a_later_call_rates_an_earlier_span(proxy_server: ProxyServer) -> None:
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    first = chat(proxy_server, traceparent=traceparent, **{"Plaudit-User-Id": "user-9"})
    earlier = first.headers["plaudit-span-id"]
    feedback = (
        f'name=response-quality; value=-1; span_id={earlier}; comment="made up; not in the docs"'
    )
    for _ in range(2):  # sent again (a retried call): stored once
        later = chat(
            proxy_server,
            traceparent=traceparent,
            **{"Plaudit-User-Id": "user-9", "Plaudit-Feedback": feedback},
        )
        assert later.status_code == 200
    assert later.headers["plaudit-feedback-status"] == "duplicate"
    span = proxy_server.span(trace_id, earlier)
    (event,) = span["feedback"]
    assert (event["name"], event["kind"], event["value"]) == ("response-quality", "thumb", -1)
    assert event["comment"] == "made up; not in the docs"
    assert (event["user_id"], event["source"], event["trace_id"]) == (
        "user-9",
        "end_user",
        trace_id,
    )


def test_a_bad_plaudit_feedback_header_is_a_problem_not_a_call(proxy_server: ProxyServer) -> None:
    calls = len(proxy_server.upstream.seen)
    answer = httpx.post(
        f"{proxy_server.base_url}/chat/completions",
        json={"model": "fake-model", "messages": MESSAGES},
        headers=proxy_server.plaudit_headers(**{"Plaudit-Feedback": "name=x; value=1; span_id=zz"}),
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert "Plaudit-Feedback" in answer.json()["detail"]
    assert len(proxy_server.upstream.seen) == calls
