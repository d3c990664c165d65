"""The Python blocks of docs/instrumentations.md run as written — openai-v2 and OpenInference
driving the official `openai` client against a fake OpenAI server, configured by environment
variables — and the feedback they send lands on the model call's span, messages and all."""

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openinference.instrumentation.openai import OpenAIInstrumentor as OpenInference
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as OpenAIV2

import plaudit
from plaudit.core.genai import message_text, span_messages
from tests.conftest import LiveServer, free_port, serving_app
from tests.proxy.fake_upstream import FakeUpstream

DOC = Path(__file__).resolve().parents[2] / "docs" / "instrumentations.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
QUESTION = "Where is my refund for order 1042?"


@pytest.fixture(scope="module")
def openai_url() -> Iterator[str]:
    port = free_port()
    with serving_app(FakeUpstream(), port) as url:
        yield f"{url}/v1"


@pytest.fixture
def app_environment(
    live_server: LiveServer, openai_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """What the app's environment holds: the docs' OTEL_* variables, Plaudit's, OpenAI's."""
    variables = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": live_server.url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {live_server.admin_token}",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "EVENT_ONLY",
        "PLAUDIT_URL": live_server.url,
        "PLAUDIT_TOKEN": live_server.admin_token,
        "OPENAI_BASE_URL": openai_url,
        "OPENAI_API_KEY": "sk-fake",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    yield
    OpenAIV2().uninstrument()  # instrumentors are singletons: leave `openai` as it was
    OpenInference().uninstrument()
    plaudit.shutdown(timeout=5)


def feedback_on(api: httpx.Client, span_id: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        items: list[dict[str, Any]] = api.get("/v1/feedback", params={"span_id": span_id}).json()[
            "items"
        ]
        if any(item["link_status"] == "linked" for item in items) or time.monotonic() > deadline:
            return items
        time.sleep(0.05)


@pytest.mark.usefixtures("app_environment")
@pytest.mark.parametrize(("block", "value"), [(0, -1), (1, 1)], ids=["openai-v2", "openinference"])
def test_the_documented_app_sends_feedback_onto_the_model_calls_span(
    api: httpx.Client, block: int, value: int
) -> None:
    code = BLOCK.findall(DOC.read_text())[block]
    namespace: dict[str, Any] = {"__name__": f"docs_instrumentations_{block}"}
    exec(compile(code, f"docs/instrumentations.md block {block}", "exec"), namespace)
    captured: plaudit.CapturedSpans = namespace["captured"]
    last = captured.last
    assert last is not None and last.name.startswith(("chat", "ChatCompletion"))
    if block == 0:  # openai-v2 records the provider's response id
        assert captured.links()["response_id"] == "chatcmpl-fake1"

    (event,) = feedback_on(api, last.span_id)
    assert (event["value"], event["link_status"], event["trace_id"]) == (
        value,
        "linked",
        last.trace_id,
    )
    tree = api.get(f"/v1/traces/{last.trace_id}").json()
    (span,) = tree["spans"]
    said = span_messages(span["attributes"])
    assert [(m["role"], message_text(m)) for m in said.inputs] == [("user", QUESTION)]
    assert [message_text(m) for m in said.outputs] == ["Paris is the capital of France."]
    namespace["tracing"].shutdown()
    if "logging" in namespace:
        namespace["logging"].shutdown()


def test_the_capture_block_runs_without_an_sdk_provider_and_says_why() -> None:
    errors: list[BaseException] = []
    from opentelemetry.trace import NoOpTracerProvider

    with plaudit.capture_spans(tracer_provider=NoOpTracerProvider(), on_error=errors.append) as c:
        pass
    assert c.last is None and c.links() == {"trace_id": None, "span_id": None}
    assert "needs an OpenTelemetry SDK TracerProvider" in str(errors[0])
