"""A span's messages are read from every common instrumentation's attributes into one shape."""

import json

from plaudit.core.genai import event_messages, message_text, span_messages, text_message

SEMCONV = {
    "gen_ai.input.messages": json.dumps(
        [{"role": "user", "parts": [{"type": "text", "content": "Where is my order?"}]}]
    ),
    "gen_ai.output.messages": [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "It ships today."}],
            "finish_reason": "stop",
        }
    ],
    "gen_ai.request.model": "gpt-x",
}
OPENINFERENCE = {  # as openinference-instrumentation-openai flattens them
    "llm.input_messages.0.message.role": "system",
    "llm.input_messages.0.message.content": "Be brief.",
    "llm.input_messages.1.message.role": "user",
    "llm.input_messages.1.message.contents.0.message_content.type": "text",
    "llm.input_messages.1.message.contents.0.message_content.text": "Where is",
    "llm.input_messages.1.message.contents.1.message_content.text": "my order?",
    "llm.output_messages.0.message.role": "assistant",
    "llm.output_messages.0.message.content": "It ships today.",
    "input.value": '{"messages": []}',
    "llm.model_name": "gpt-x",
}
OLD_GENAI = {  # OpenLLMetry and the early semantic conventions
    "gen_ai.prompt.0.role": "user",
    "gen_ai.prompt.0.content": "Where is my order?",
    "gen_ai.completion.0.role": "assistant",
    "gen_ai.completion.0.content": "It ships today.",
    "gen_ai.completion.0.finish_reason": "stop",
}


def texts(messages: list[dict[str, object]]) -> list[tuple[object, str]]:
    return [(m["role"], message_text(m)) for m in messages]


def test_semantic_convention_messages_as_text_or_list() -> None:
    said = span_messages(SEMCONV)
    assert texts(said.inputs) == [("user", "Where is my order?")]
    assert texts(said.outputs) == [("assistant", "It ships today.")]
    assert said.outputs[0]["finish_reason"] == "stop"
    assert said.sources == {"gen_ai.input.messages", "gen_ai.output.messages"}


def test_openinference_messages_with_contents_and_plain_content() -> None:
    said = span_messages(OPENINFERENCE)
    assert texts(said.inputs) == [("system", "Be brief."), ("user", "Where is\nmy order?")]
    assert texts(said.outputs) == [("assistant", "It ships today.")]
    assert "llm.model_name" not in said.sources
    assert "llm.input_messages.1.message.contents.1.message_content.text" in said.sources


def test_older_prompt_and_completion_attributes() -> None:
    said = span_messages(OLD_GENAI)
    assert texts(said.inputs) == [("user", "Where is my order?")]
    assert texts(said.outputs) == [("assistant", "It ships today.")]
    assert "gen_ai.completion.0.finish_reason" not in said.sources


def test_input_and_output_values_of_chains_and_tools() -> None:
    said = span_messages({"input.value": "refund order 7", "output.value": "done"})
    assert said.inputs == [text_message("user", "refund order 7")]
    assert said.outputs == [text_message("assistant", "done")]


def test_a_span_without_messages_has_none() -> None:
    said = span_messages({"http.method": "GET"})
    assert (said.inputs, said.outputs, said.sources) == ([], [], frozenset())


def test_unreadable_semantic_convention_text_is_kept_as_text() -> None:
    said = span_messages({"gen_ai.input.messages": "not json"})
    assert texts(said.inputs) == [("", "not json")]


def test_system_instructions_kept_apart_come_first_as_a_system_message() -> None:
    said = span_messages(
        {
            "gen_ai.system_instructions": '[{"type": "text", "content": "Be brief."}]',
            "gen_ai.input.messages": [
                {"role": "user", "parts": [{"type": "text", "content": "Hi"}]}
            ],
        }
    )
    assert [(m["role"], message_text(m)) for m in said.inputs] == [
        ("system", "Be brief."),
        ("user", "Hi"),
    ]
    details = event_messages(
        "gen_ai.client.inference.operation.details",
        None,
        {"gen_ai.system_instructions": "Plain text, not JSON", "gen_ai.output.messages": []},
    )
    assert details is not None
    assert [(m["role"], message_text(m)) for m in details[0]] == [
        ("system", "Plain text, not JSON")
    ]
