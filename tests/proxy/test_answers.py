"""Reading answers for the span (gzip, Responses API streams) and the Plaudit-Feedback grammar."""

import gzip
import json

import pytest

from plaudit.proxy.answers import reader_for
from plaudit.proxy.genai import endpoint_of, request_attributes
from plaudit.proxy.headers import parse_feedback, read_headers


def test_a_gzip_answer_is_read_through_a_bounded_decompressor() -> None:
    answer = {
        "id": "chatcmpl-z", "model": "m-1", "usage": {"prompt_tokens": 3, "completion_tokens": 1},
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                     "finish_reason": "stop"}],
    }  # fmt: skip
    packed = gzip.compress(json.dumps(answer).encode())
    reader = reader_for("application/json", "gzip", capture=True)
    for start in range(0, len(packed), 7):
        reader.feed(packed[start : start + 7])
    found = reader.attributes()
    assert found["gen_ai.response.id"] == "chatcmpl-z"
    assert found["gen_ai.usage.input_tokens"] == 3
    assert json.loads(found["gen_ai.output.messages"])[0]["parts"][0]["content"] == "hi"


def test_a_responses_api_stream_is_read_from_its_final_event() -> None:
    final = {
        "id": "resp_1", "object": "response", "model": "m-2", "status": "completed",
        "usage": {"input_tokens": 5, "output_tokens": 2},
        "output": [{"type": "message", "role": "assistant",
                    "content": [{"type": "output_text", "text": "Bonjour"}]}],
    }  # fmt: skip
    events = [
        {"type": "response.output_text.delta", "delta": "Bon"},
        {"type": "response.completed", "response": final},
    ]
    stream = b"".join(
        b"event: " + e["type"].encode() + b"\r\ndata: " + json.dumps(e).encode() + b"\r\n\r\n"
        for e in events
    )
    reader = reader_for("text/event-stream", "", capture=True)
    for byte in range(len(stream)):  # split anywhere, even inside a line
        reader.feed(stream[byte : byte + 1])
    found = reader.attributes()
    assert (found["gen_ai.response.id"], found["gen_ai.usage.output_tokens"]) == ("resp_1", 2)
    assert json.loads(found["gen_ai.output.messages"])[0]["parts"][0]["content"] == "Bonjour"


def test_requests_by_endpoint() -> None:
    assert endpoint_of("/v1/chat/completions") == "chat/completions"
    assert endpoint_of("/openai/deployments/x/completions") == "completions"
    assert endpoint_of("/v1/models") is None
    body = {"model": "m", "instructions": "Be brief", "input": "Hi", "max_output_tokens": 9}
    found = request_attributes("responses", body, capture=True)
    assert found["gen_ai.request.max_tokens"] == 9
    assert [m["role"] for m in json.loads(found["gen_ai.input.messages"])] == ["system", "user"]
    assert "gen_ai.input.messages" not in request_attributes("embeddings", {"input": "x"}, True)
    assert "gen_ai.input.messages" not in request_attributes("chat/completions", body, False)


def test_the_plaudit_feedback_grammar() -> None:
    assert parse_feedback('name=q; value=-1; span_id=00f067aa0ba902b7; comment="a; \\"b\\""') == {
        "name": "q", "value": -1, "span_id": "00f067aa0ba902b7", "comment": 'a; "b"',
    }  # fmt: skip
    assert parse_feedback("name=stars; value=4.5")["value"] == 4.5
    assert parse_feedback("name=ok; value=true; kind=bool")["value"] is True
    assert parse_feedback("name=label; value=wrong_city")["value"] == "wrong_city"
    for bad in ("", "value", "name=a; name=b"):
        with pytest.raises(ValueError):
            parse_feedback(bad)


def test_plaudit_headers_never_go_upstream() -> None:
    call = read_headers(
        [
            (b"authorization", b"Bearer provider"),
            (b"plaudit-auth", b"Bearer sk_x"),
            (b"plaudit-step", b"respond"),
            (b"connection", b"keep-alive"),
            (b"content-length", b"10"),
            (b"accept-encoding", b"gzip"),
        ]
    )
    assert call.auth == "Bearer sk_x" and call.step == "respond"
    assert call.upstream == [(b"authorization", b"Bearer provider"), (b"accept-encoding", b"gzip")]
