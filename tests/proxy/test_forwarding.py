"""The proxy relays calls of the official OpenAI client unchanged, and records each as a span."""

import asyncio
import json

import httpx
import openai
import pytest

from tests.proxy.conftest import PROVIDER_KEY, ProxyServer
from tests.proxy.fake_upstream import CHAT_ANSWER, EMBEDDING_ANSWER, STREAM_TEXTS, stream_events

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


def client(proxy: ProxyServer, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=proxy.base_url,
        api_key=PROVIDER_KEY,
        default_headers=proxy.plaudit_headers(**headers),
        max_retries=0,
    )


def ids(response: httpx.Response) -> tuple[str, str]:
    return response.headers["plaudit-trace-id"], response.headers["plaudit-span-id"]


def test_a_chat_completion_is_relayed_byte_for_byte_and_becomes_a_span(
    proxy_server: ProxyServer,
) -> None:
    raw = client(proxy_server).chat.completions.with_raw_response.create(
        model="fake-model",
        messages=MESSAGES,
        temperature=0.2,  # type: ignore[arg-type]
    )
    assert raw.http_response.content == CHAT_ANSWER
    assert raw.headers["x-fake-upstream"] == "yes"
    completion = raw.parse()
    assert completion.choices[0].message.content == "Paris is the capital of France."

    seen = proxy_server.upstream.seen[-1]
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {PROVIDER_KEY}"
    assert not any(name.startswith("plaudit-") for name in seen.headers)

    trace_id, span_id = ids(raw.http_response)
    assert seen.headers["traceparent"] == f"00-{trace_id}-{span_id}-01"
    span = proxy_server.span(trace_id, span_id)
    attributes = span["attributes"]
    assert span["name"] == "chat fake-model" and span["kind"] == "client"
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "fake"
    assert attributes["gen_ai.request.model"] == "fake-model"
    assert attributes["gen_ai.request.temperature"] == 0.2
    assert attributes["gen_ai.response.model"] == "fake-model-2026"
    assert attributes["gen_ai.response.id"] == "chatcmpl-fake1"
    assert attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert attributes["gen_ai.usage.input_tokens"] == 12
    assert attributes["gen_ai.usage.output_tokens"] == 7
    assert attributes["http.response.status_code"] == 200
    assert "error.type" not in attributes
    assert json.loads(attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": MESSAGES[0]["content"]}]}
    ]
    (output,) = json.loads(attributes["gen_ai.output.messages"])
    assert output["parts"][0]["content"] == "Paris is the capital of France."
    assert output["finish_reason"] == "stop"


def test_a_stream_is_relayed_chunk_by_chunk_with_its_usage(proxy_server: ProxyServer) -> None:
    body = {
        "model": "fake-model", "messages": MESSAGES, "stream": True,
        "stream_options": {"include_usage": True},
    }  # fmt: skip
    headers = {"authorization": f"Bearer {PROVIDER_KEY}", **proxy_server.plaudit_headers()}
    with (
        httpx.Client(timeout=10) as http,
        http.stream(
            "POST", f"{proxy_server.base_url}/chat/completions", json=body, headers=headers
        ) as response,
    ):
        chunks = list(response.iter_raw())
        trace_id, span_id = ids(response)
    assert chunks == stream_events(include_usage=True)

    attributes = proxy_server.span(trace_id, span_id)["attributes"]
    assert attributes["gen_ai.usage.input_tokens"] == 9
    assert attributes["gen_ai.usage.output_tokens"] == 4
    assert attributes["gen_ai.response.id"] == "chatcmpl-stream1"
    assert attributes["gen_ai.response.finish_reasons"] == ["stop"]
    (output,) = json.loads(attributes["gen_ai.output.messages"])
    assert output["parts"][0]["content"] == "".join(STREAM_TEXTS)


def test_the_openai_client_streams_through_the_proxy(proxy_server: ProxyServer) -> None:
    stream = client(proxy_server).chat.completions.create(
        model="fake-model",
        messages=MESSAGES,
        stream=True,  # type: ignore[arg-type]
    )
    texts = [chunk.choices[0].delta.content for chunk in stream if chunk.choices]
    assert "".join(t for t in texts if t) == "".join(STREAM_TEXTS)


def test_the_first_chunk_arrives_before_the_upstream_sends_the_last(
    proxy_server: ProxyServer,
) -> None:
    upstream = proxy_server.upstream
    upstream.release.clear()
    upstream.sent_last.clear()
    stream = client(proxy_server).chat.completions.create(
        model="gated",
        messages=MESSAGES,
        stream=True,  # type: ignore[arg-type]
    )
    first = next(iter(stream))
    assert first.choices[0].delta.content == STREAM_TEXTS[0]
    assert not upstream.sent_last.is_set()
    upstream.release.set()
    rest = list(stream)
    assert upstream.sent_last.is_set() and rest


def test_the_async_client_and_embeddings(proxy_server: ProxyServer) -> None:
    async def call() -> tuple[bytes, bytes]:
        async with openai.AsyncOpenAI(
            base_url=proxy_server.base_url,
            api_key=PROVIDER_KEY,
            default_headers=proxy_server.plaudit_headers(),
            max_retries=0,
        ) as client:
            chat = await client.chat.completions.with_raw_response.create(
                model="fake-model",
                messages=MESSAGES,  # type: ignore[arg-type]
            )
            embedded = await client.embeddings.with_raw_response.create(
                model="fake-embed", input="hello"
            )
            vector = embedded.parse().data[0].embedding
            assert vector == [0.125, -0.5, 0.75]
            trace_id, span_id = ids(embedded.http_response)
            span = await asyncio.to_thread(proxy_server.span, trace_id, span_id)
            assert span["attributes"]["gen_ai.operation.name"] == "embeddings"
            assert span["attributes"]["gen_ai.usage.input_tokens"] == 4
            assert "gen_ai.input.messages" not in span["attributes"]
            return chat.http_response.content, embedded.http_response.content

    chat, embedded = asyncio.run(call())
    assert chat == CHAT_ANSWER and embedded == EMBEDDING_ANSWER


def test_completions_and_query_strings_pass_through(proxy_server: ProxyServer) -> None:
    completion = client(proxy_server).completions.create(
        model="fake-model", prompt="Say", extra_query={"api-version": "2026-01-01"}
    )
    assert completion.choices[0].text == " a completion"
    assert proxy_server.upstream.seen[-1].query == "api-version=2026-01-01"


@pytest.mark.parametrize("status", [429, 500])
def test_upstream_errors_pass_through_unchanged(proxy_server: ProxyServer, status: int) -> None:
    headers = {"authorization": f"Bearer {PROVIDER_KEY}", **proxy_server.plaudit_headers()}
    body = {"model": f"error-{status}", "messages": MESSAGES}
    answer = httpx.post(f"{proxy_server.base_url}/chat/completions", json=body, headers=headers)
    assert answer.status_code == status
    assert (
        answer.content
        == json.dumps(
            {"error": {"message": f"fake {status}", "type": "fake", "code": None}}
        ).encode()
    )
    attributes = proxy_server.span(*ids(answer))["attributes"]
    assert attributes["http.response.status_code"] == status
    assert attributes["error.type"] == str(status)
    with pytest.raises(openai.APIStatusError) as raised:
        client(proxy_server).chat.completions.create(
            model=f"error-{status}",
            messages=MESSAGES,  # type: ignore[arg-type]
        )
    assert raised.value.status_code == status


def test_a_timeout_is_a_504_problem_recorded_on_the_span(proxy_server: ProxyServer) -> None:
    headers = {"authorization": f"Bearer {PROVIDER_KEY}", **proxy_server.plaudit_headers()}
    answer = httpx.post(
        f"{proxy_server.base_url}/chat/completions",
        json={"model": "slow", "messages": MESSAGES},
        headers=headers,
        timeout=30,
    )
    assert answer.status_code == 504
    assert answer.headers["content-type"] == "application/problem+json"
    assert "did not answer in time" in answer.json()["detail"]
    attributes = proxy_server.span(*ids(answer))["attributes"]
    assert attributes["error.type"] == "timeout"
    assert "http.response.status_code" not in attributes


def test_an_unreachable_upstream_is_a_502_problem(proxy_server: ProxyServer) -> None:
    answer = httpx.post(
        f"{proxy_server.url}/proxy/nowhere/chat/completions",
        json={"model": "m", "messages": MESSAGES},
        headers=proxy_server.plaudit_headers(),
    )
    assert answer.status_code == 502
    assert answer.json()["type"] == "/problems/bad-gateway"
    assert proxy_server.span(*ids(answer))["attributes"]["error.type"] == "ConnectError"


def test_a_broken_stream_cuts_the_caller_and_is_recorded(proxy_server: ProxyServer) -> None:
    headers = {"authorization": f"Bearer {PROVIDER_KEY}", **proxy_server.plaudit_headers()}
    body = {"model": "break", "messages": MESSAGES, "stream": True}
    received: list[bytes] = []
    with (
        httpx.Client(timeout=10) as http,
        http.stream(
            "POST", f"{proxy_server.base_url}/chat/completions", json=body, headers=headers
        ) as response,
    ):
        trace_id, span_id = ids(response)
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in response.iter_raw():
                received.append(chunk)
    assert received == stream_events(include_usage=False)[:2]
    attributes = proxy_server.span(trace_id, span_id)["attributes"]
    assert attributes["error.type"] == "RemoteProtocolError"
    assert attributes["http.response.status_code"] == 200


def test_a_caller_that_goes_away_cancels_the_upstream_call(proxy_server: ProxyServer) -> None:
    upstream = proxy_server.upstream
    upstream.cancelled.clear()
    headers = {"authorization": f"Bearer {PROVIDER_KEY}", **proxy_server.plaudit_headers()}
    body = {"model": "endless", "messages": MESSAGES, "stream": True}
    with (
        httpx.Client(timeout=10) as http,
        http.stream(
            "POST", f"{proxy_server.base_url}/chat/completions", json=body, headers=headers
        ) as response,
    ):
        trace_id, span_id = ids(response)
        next(response.iter_raw())
    assert upstream.cancelled.wait(10)
    assert proxy_server.span(trace_id, span_id)["attributes"]["error.type"] == "cancelled"


def test_unknown_upstreams_and_missing_tokens_are_refused(proxy_server: ProxyServer) -> None:
    unknown = httpx.post(
        f"{proxy_server.url}/proxy/elsewhere/chat/completions",
        json={}, headers=proxy_server.plaudit_headers(),
    )  # fmt: skip
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert "no upstream named 'elsewhere'" in unknown.json()["detail"]

    climbing = httpx.post(
        f"{proxy_server.url}/proxy/fake/%2E%2E/%2E%2E/admin",
        json={}, headers=proxy_server.plaudit_headers(),
    )  # fmt: skip
    assert climbing.status_code == 400

    anonymous = httpx.post(f"{proxy_server.base_url}/chat/completions", json={})
    assert anonymous.status_code == 401
    assert "Plaudit-Auth" in anonymous.json()["detail"]

    browser = httpx.post(
        f"{proxy_server.base_url}/chat/completions",
        json={},
        headers={"Plaudit-Auth": f"Bearer {proxy_server.browser_token}"},
    )
    assert browser.status_code == 403
