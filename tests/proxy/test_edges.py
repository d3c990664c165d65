"""Edges of the proxy: the async client streaming, a stream that stalls or is dropped by the
openai client, requests that try to reach another host, and spans stored when the server stops."""

import asyncio
import json
import secrets
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import openai
import pytest
from sqlalchemy import Engine, select

from plaudit.core.spans import SpanRecord
from plaudit.proxy.span_queue import SpanQueue
from plaudit.server.app import create_app
from plaudit.settings import Settings
from plaudit.store.database import create_database_engine
from plaudit.store.schema import spans
from plaudit.store.writer import Call, Writer
from tests.conftest import free_port, make_tokens, serving, serving_app
from tests.proxy.conftest import PROVIDER_KEY, ProxyServer
from tests.proxy.fake_upstream import CHAT_ANSWER, STREAM_TEXTS, FakeUpstream

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


def test_the_async_client_streams_chunk_by_chunk(proxy_server: ProxyServer) -> None:
    async def call() -> tuple[list[str], str, str]:
        async with openai.AsyncOpenAI(
            base_url=proxy_server.base_url,
            api_key=PROVIDER_KEY,
            default_headers=proxy_server.plaudit_headers(),
            max_retries=0,
        ) as client:
            raw = await client.chat.completions.with_raw_response.create(
                model="fake-model",
                messages=MESSAGES,  # type: ignore[arg-type]
                stream=True,
                stream_options={"include_usage": True},
            )
            texts = [c.choices[0].delta.content or "" async for c in raw.parse() if c.choices]
            return texts, raw.headers["plaudit-trace-id"], raw.headers["plaudit-span-id"]

    texts, trace_id, span_id = asyncio.run(call())
    assert texts == [*STREAM_TEXTS, ""]
    attributes = proxy_server.span(trace_id, span_id)["attributes"]
    assert attributes["gen_ai.usage.output_tokens"] == 4
    assert "error.type" not in attributes


def test_a_stream_that_stalls_is_cut_after_the_timeout_and_recorded(
    proxy_server: ProxyServer,
) -> None:
    upstream = proxy_server.upstream
    upstream.release.clear()  # `gated` sends its first chunks, then nothing until released
    stream = openai.OpenAI(
        base_url=proxy_server.base_url,
        api_key=PROVIDER_KEY,
        default_headers=proxy_server.plaudit_headers(),
        max_retries=0,
    ).chat.completions.with_raw_response.create(
        model="gated",
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
    )
    trace_id, span_id = stream.headers["plaudit-trace-id"], stream.headers["plaudit-span-id"]
    received: list[str] = []
    began = time.monotonic()
    try:
        with pytest.raises(openai.APIError):
            for chunk in stream.parse():
                received.append(chunk.choices[0].delta.content or "")
    finally:
        upstream.release.set()
    assert received == [*STREAM_TEXTS, ""]  # all the upstream sent before it stalled
    assert time.monotonic() - began < 10  # cut at the proxy's timeout, not the upstream's end
    attributes = proxy_server.span(trace_id, span_id)["attributes"]
    assert attributes["error.type"] == "timeout"
    assert attributes["http.response.status_code"] == 200


def test_closing_an_openai_stream_cancels_the_upstream_call(proxy_server: ProxyServer) -> None:
    upstream = proxy_server.upstream
    upstream.cancelled.clear()
    raw = openai.OpenAI(
        base_url=proxy_server.base_url,
        api_key=PROVIDER_KEY,
        default_headers=proxy_server.plaudit_headers(),
        max_retries=0,
    ).chat.completions.with_raw_response.create(
        model="endless",
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
    )
    stream = raw.parse()
    assert next(iter(stream)).choices[0].delta.content == "more "
    stream.close()
    assert upstream.cancelled.wait(10)
    span = proxy_server.span(raw.headers["plaudit-trace-id"], raw.headers["plaudit-span-id"])
    assert span["attributes"]["error.type"] == "cancelled"
    assert span["status_code"] == "error"


@pytest.mark.parametrize(
    "path",
    [
        "/proxy/fake//attacker.example/chat/completions",
        "/proxy/fake/@attacker.example/chat/completions",
        "/proxy/fake/http://attacker.example/chat/completions",
    ],
)
def test_no_path_or_header_reaches_another_host(proxy_server: ProxyServer, path: str) -> None:
    """Whatever follows the upstream's name is a path on that upstream, and only there."""
    before = len(proxy_server.upstream.seen)
    answer = httpx.post(
        proxy_server.url + path,
        json={"model": "fake-model", "messages": MESSAGES},
        headers={"Host": "attacker.example", "X-Forwarded-Host": "attacker.example",
                 **proxy_server.plaudit_headers()},
    )  # fmt: skip
    assert answer.content == CHAT_ANSWER  # from the configured upstream, the only one reachable
    (seen,) = proxy_server.upstream.seen[before:]
    assert seen.path == "/v1" + path.removeprefix("/proxy/fake")
    assert seen.headers["host"] == proxy_server.upstream_url.removeprefix("http://")


@pytest.mark.parametrize("name", ["fake@attacker.example", "attacker.example", "fake:80"])
def test_an_upstream_name_is_only_ever_a_name(proxy_server: ProxyServer, name: str) -> None:
    before = len(proxy_server.upstream.seen)
    answer = httpx.post(
        f"{proxy_server.url}/proxy/{name}/chat/completions",
        json={"model": "fake-model", "messages": MESSAGES},
        headers=proxy_server.plaudit_headers(),
    )
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert len(proxy_server.upstream.seen) == before


def test_spans_queued_when_the_server_stops_are_stored(
    database_url: str, fake_upstream: tuple[FakeUpstream, str], tmp_path: Path
) -> None:
    """A proxied call's span is stored after its answer; a normal stop stores the queued ones."""
    _, upstream_url = fake_upstream
    if database_url.startswith("sqlite"):  # a file the module's own server does not hold
        database_url = f"sqlite:///{tmp_path / 'own.db'}"
    _, _, traces = make_tokens(database_url)
    port = free_port()
    settings = Settings(
        database_url=database_url, port=port, proxy_upstreams={"fake": f"{upstream_url}/v1"}
    )
    stack = ExitStack()
    stack.enter_context(serving(settings))
    span_ids = set()
    try:

        async def calls() -> None:
            async with httpx.AsyncClient(timeout=30) as client:
                answers = await asyncio.gather(
                    *(
                        client.post(
                            f"http://127.0.0.1:{port}/proxy/fake/chat/completions",
                            json={"model": "fake-model", "messages": MESSAGES},
                            headers={"Plaudit-Auth": f"Bearer {traces}"},
                        )
                        for _ in range(20)
                    )
                )
            for answer in answers:
                assert answer.content == CHAT_ANSWER
                span_ids.add(answer.headers["plaudit-span-id"])

        asyncio.run(calls())
    finally:
        stack.close()  # at once: the last spans are still queued
    assert len(span_ids) == 20
    engine = create_database_engine(database_url)
    try:
        with engine.connect() as connection:
            stored = set(connection.scalars(select(spans.c.span_id)))
    finally:
        engine.dispose()
    assert span_ids <= stored


def test_the_span_queue_stores_in_groups_and_drains(engine: Engine) -> None:
    """Spans queued together are stored together; `drain` (at shutdown) stores what waits."""
    writer = Writer(engine)
    writer.start()
    trace_id = secrets.token_hex(16)
    records = [
        SpanRecord.build(trace_id=trace_id, span_id=secrets.token_hex(8), name="chat m",
                         start_time_ns=1, end_time_ns=2)
        for _ in range(30)
    ]  # fmt: skip

    async def queue_and_drain() -> None:
        queue = SpanQueue(writer)
        for record in records:
            queue.add("default", record)
        assert queue.queued == 30
        await queue.drain()  # at once: nothing has been flushed yet
        assert queue.queued == 0 and queue.dropped == 0

    try:
        commits = writer.commits
        asyncio.run(queue_and_drain())
        assert writer.commits == commits + 1  # one transaction for the 30 spans
    finally:
        writer.stop()
    with engine.connect() as connection:
        stored = set(
            connection.scalars(select(spans.c.span_id).where(spans.c.trace_id == trace_id))
        )
    assert stored == {record.span_id for record in records}


def test_a_long_conversation_is_relayed_and_recorded(proxy_server: ProxyServer) -> None:
    """Past 128 KiB the span is read in a worker thread; it records the same as for a short call."""
    history = [
        {"role": "user" if i % 2 else "assistant", "content": f"turn {i}: " + "é word " * 200}
        for i in range(200)
    ]
    answer = httpx.post(
        f"{proxy_server.base_url}/chat/completions",
        content=json.dumps({"model": "fake-model", "messages": history}).encode(),
        headers={"content-type": "application/json", **proxy_server.plaudit_headers()},
        timeout=30,
    )
    assert answer.content == CHAT_ANSWER
    assert len(proxy_server.upstream.seen[-1].body) > 128 * 1024
    span = proxy_server.span(answer.headers["plaudit-trace-id"], answer.headers["plaudit-span-id"])
    recorded = json.loads(span["attributes"]["gen_ai.input.messages"])
    assert [m["parts"][0]["content"] for m in recorded] == [m["content"] for m in history]
    assert span["attributes"]["gen_ai.usage.input_tokens"] == 12


def test_the_answer_does_not_wait_for_its_span(
    database_url: str, fake_upstream: tuple[FakeUpstream, str], tmp_path: Path
) -> None:
    """While the database writer is busy, a proxied call is still answered at once; its span is
    stored when the writer is free again."""
    _, upstream_url = fake_upstream
    if database_url.startswith("sqlite"):  # a file the module's own server does not hold
        database_url = f"sqlite:///{tmp_path / 'own.db'}"
    _, _, traces = make_tokens(database_url)
    port = free_port()
    settings = Settings(
        database_url=database_url, port=port, proxy_upstreams={"fake": f"{upstream_url}/v1"}
    )
    app = create_app(settings)
    stack = ExitStack()
    stack.enter_context(serving_app(app, port))
    release = threading.Event()
    try:
        writer = app.state.plaudit.writer
        busy = threading.Thread(target=writer.write_sync, args=(Call(lambda _: release.wait(30)),))
        busy.start()
        began = time.monotonic()
        answer = httpx.post(
            f"http://127.0.0.1:{port}/proxy/fake/chat/completions",
            json={"model": "fake-model", "messages": MESSAGES},
            headers={"Plaudit-Auth": f"Bearer {traces}"},
            timeout=30,
        )
        assert answer.content == CHAT_ANSWER
        assert time.monotonic() - began < 5  # the writer stays busy for up to 30 s
        release.set()
        busy.join(timeout=30)
        span_id = answer.headers["plaudit-span-id"]
        engine = create_database_engine(database_url)
        try:
            deadline = time.monotonic() + 15
            while True:
                with engine.connect() as connection:
                    found = connection.scalar(
                        select(spans.c.span_id).where(spans.c.span_id == span_id)
                    )
                if found or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        finally:
            engine.dispose()
        assert found == span_id
    finally:
        release.set()
        stack.close()


def test_cors_still_stands_in_front_of_the_proxy(proxy_server: ProxyServer) -> None:
    """`/proxy/…` skips the framework's routing but not CORS: a foreign page's preflight is
    refused by Plaudit, not forwarded upstream."""
    before = len(proxy_server.upstream.seen)
    preflight = httpx.options(
        f"{proxy_server.base_url}/chat/completions",
        headers={"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    assert len(proxy_server.upstream.seen) == before


def test_feedback_the_database_cannot_take_is_a_503_and_no_call(
    database_url: str, fake_upstream: tuple[FakeUpstream, str], tmp_path: Path
) -> None:
    upstream, upstream_url = fake_upstream
    if database_url.startswith("sqlite"):  # a file the module's own server does not hold
        database_url = f"sqlite:///{tmp_path / 'own.db'}"
    _, _, traces = make_tokens(database_url)
    port = free_port()
    settings = Settings(
        database_url=database_url,
        port=port,
        proxy_upstreams={"fake": f"{upstream_url}/v1"},
        write_timeout=0.5,
    )
    app = create_app(settings)
    stack = ExitStack()
    stack.enter_context(serving_app(app, port))
    release = threading.Event()
    try:
        writer = app.state.plaudit.writer
        busy = threading.Thread(target=writer.write_sync, args=(Call(lambda _: release.wait(30)),))
        busy.start()
        before = len(upstream.seen)
        answer = httpx.post(
            f"http://127.0.0.1:{port}/proxy/fake/chat/completions",
            json={"model": "fake-model", "messages": MESSAGES},
            headers={
                "Plaudit-Auth": f"Bearer {traces}",
                "Plaudit-Feedback": f"name=helpful; value=-1; span_id={secrets.token_hex(8)}",
            },
            timeout=30,
        )
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert int(answer.headers["retry-after"]) > 0
        assert answer.json()["instance"] == "/proxy/fake/chat/completions"
        assert len(upstream.seen) == before  # the call was not made
    finally:
        release.set()
        stack.close()
