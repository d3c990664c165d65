"""`GET /v1/traces?q=messages contains "…"`: traces found by the text of their spans' messages,
whichever convention carried them, logged GenAI events included (both stores)."""

import json
from typing import Any

import httpx
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.conftest import LiveServer


def export(live_server: LiveServer, attributes: dict[str, Any], logged: str | None = None) -> str:
    """One span with `attributes` (and a GenAI event saying `logged`); its trace id."""
    headers = {"authorization": f"Bearer {live_server.otlp_token}"}
    tracing = TracerProvider()
    tracing.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(f"{live_server.url}/v1/traces", headers=headers))
    )
    logging = LoggerProvider()
    logging.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(f"{live_server.url}/v1/logs", headers=headers))
    )
    with tracing.get_tracer("tests").start_as_current_span("chat", attributes=attributes) as span:
        if logged is not None:
            logging.get_logger("tests").emit(
                event_name="gen_ai.user.message", body={"content": logged}
            )
        trace_id = f"{span.get_span_context().trace_id:032x}"
    tracing.shutdown()
    logging.shutdown()
    return trace_id


def found(api: httpx.Client, q: str) -> set[str]:
    answer = api.get("/v1/traces", params={"q": q, "limit": 100})
    assert answer.status_code == 200, answer.text
    return {item["trace_id"] for item in answer.json()["items"]}


def test_messages_of_every_convention_are_searched_and_nothing_else(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    word = f"refund{unique}"
    parts = [{"role": "user", "parts": [{"type": "text", "content": f"Where is my {word}?"}]}]
    traces = {
        "semconv": export(live_server, {"gen_ai.input.messages": json.dumps(parts)}),
        "system": export(
            live_server, {"gen_ai.system_instructions": f"Never promise a {word.upper()}."}
        ),
        "openinference": export(
            live_server,
            {
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": f"Your {word} is on its way.",
            },
        ),
        "older": export(live_server, {"gen_ai.prompt.0.content": f"{word} please"}),
        "value": export(live_server, {"input.value": f'{{"question": "{word}"}}'}),
        "logged": export(live_server, {"gen_ai.operation.name": "chat"}, logged=f"A {word}?"),
    }
    elsewhere = export(live_server, {"app.note": f"{word} in an attribute that is no message"})

    hits = found(api, f'messages contains "{word}"')
    assert hits == set(traces.values())
    assert elsewhere not in hits
    # as `comment contains`, case does not matter for ASCII letters
    assert found(api, f'messages contains "{word.upper()}"') == hits
    assert found(api, f'messages contains "{word}" and span.app.note contains "x"') == set()


def test_messages_combine_with_feedback_conditions(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    word = f"invoice{unique}"
    disliked = export(live_server, {"input.value": f"my {word}"})
    liked = export(live_server, {"input.value": f"the {word}"})
    for trace_id, value in ((disliked, -1), (liked, 1)):
        answer = api.post(
            "/v1/feedback", json={"trace_id": trace_id, "name": "response-quality", "value": value}
        )
        assert answer.json()["results"][0]["status"] == "created"
    q = f'messages contains "{word}" and feedback.response-quality = -1'
    assert found(api, q) == {disliked}


def test_messages_take_contains_and_text_only(api: httpx.Client) -> None:
    for q, says in [
        ('messages = "refund"', "messages contains"),
        ('messages contains ""', "messages contains"),
        ('messages.content contains "refund"', "has no paths"),
        ("messages contains 3", "takes a string"),
    ]:
        answer = api.get("/v1/traces", params={"q": q})
        assert answer.status_code == 400, (q, answer.text)
        assert says in answer.json()["detail"], (q, answer.json()["detail"])
    # outside trace search, `messages` is no field
    answer = api.post("/v1/query", json={"query": 'count where messages contains "x"'})
    assert answer.status_code == 400
    assert "unknown field `messages`" in answer.json()["detail"]
