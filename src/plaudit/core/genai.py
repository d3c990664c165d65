"""A span's input and output messages, wherever its instrumentation put them.

Instrumentations disagree on where a model call's messages go. We read, in this order:

1. the GenAI semantic conventions: `gen_ai.input.messages` / `gen_ai.output.messages`, a list of
   `{"role", "parts": [{"type", "content"}]}` (as JSON text or as a list);
2. OpenInference (Arize Phoenix's instrumentations): flattened
   `llm.input_messages.<i>.message.role` / `.message.content` (or
   `.message.contents.<j>.message_content.text`), the same under `llm.output_messages`, and
   `input.value` / `output.value` for chains and tools;
3. the older GenAI attributes: `gen_ai.prompt.<i>.role` / `.content` and
   `gen_ai.completion.<i>.role` / `.content` (OpenLLMetry and early semantic conventions).

Whatever the source, messages come out in the first shape, so the trace view and dataset mapping
read one form. The attributes a source was read from are listed, so a view can leave them out of
the plain attribute table.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

INPUT_MESSAGES: Final = "gen_ai.input.messages"
OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
"""The system prompt, kept apart from the input messages by newer instrumentations (a list of
parts); read as a `system` message before the inputs."""

MESSAGE_ATTRIBUTES: Final = (
    INPUT_MESSAGES,
    OUTPUT_MESSAGES,
    SYSTEM_INSTRUCTIONS,
    "input.value",
    "output.value",
)
"""Attributes that hold messages whole, in a convention below (trace search reads them)."""
MESSAGE_ATTRIBUTE_PREFIXES: Final = (
    "llm.input_messages.",
    "llm.output_messages.",
    "gen_ai.prompt.",
    "gen_ai.completion.",
)
"""Prefixes of the flattened message attributes (OpenInference's and the older GenAI ones)."""

Message = dict[str, Any]
"""`{"role": str, "parts": [{"type": "text", "content": str}, …]}`."""

_OPENINFERENCE: Final = re.compile(
    r"llm\.(?P<side>input|output)_messages\.(?P<index>\d+)\.message\."
    r"(?:(?P<field>role|content)|contents\.(?P<part>\d+)\.message_content\.text)"
)
_OLD_GENAI: Final = re.compile(
    r"gen_ai\.(?P<side>prompt|completion)\.(?P<index>\d+)\.(?P<field>role|content)"
)
_SIDE: Final = {"input": 0, "prompt": 0, "output": 1, "completion": 1}


@dataclass(frozen=True, slots=True)
class SpanMessages:
    """What went into a model call and what came out, and where they were read from."""

    inputs: list[Message] = field(default_factory=list)
    outputs: list[Message] = field(default_factory=list)
    sources: frozenset[str] = frozenset()


def text_message(role: str, text: str) -> Message:
    """A message of one text part."""
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def message_text(message: Message) -> str:
    """The text of a message's parts (or of its `content`, in the older shape)."""
    parts = message.get("parts")
    if isinstance(parts, list):
        texts = [str(p["content"]) for p in parts if isinstance(p, dict) and "content" in p]
        if texts:
            return "\n".join(texts)
    content = message.get("content")
    return "" if content is None else str(content)


def span_messages(attributes: Mapping[str, Any]) -> SpanMessages:
    """The span's messages from whichever convention its attributes follow (module docstring)."""
    present = frozenset(
        key
        for key in (INPUT_MESSAGES, OUTPUT_MESSAGES, SYSTEM_INSTRUCTIONS)
        if attributes.get(key) is not None
    )
    if present:
        return SpanMessages(
            _semconv_inputs(attributes), _semconv(attributes.get(OUTPUT_MESSAGES)), present
        )
    flattened = _flattened(attributes)
    if flattened.sources:
        return flattened
    return _values(attributes)


def _semconv(raw: Any) -> list[Message]:
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return [text_message("", str(raw))]
    if not isinstance(items, list):
        return [] if items is None else [text_message("", str(raw))]
    return [
        text_message(str(item.get("role", "")), message_text(item))
        if "parts" not in item
        else {**item, "role": str(item.get("role", ""))}
        for item in items
        if isinstance(item, dict)
    ]


def _semconv_inputs(attributes: Mapping[str, Any]) -> list[Message]:
    """The input messages, after the system instructions when they are kept apart."""
    inputs = _semconv(attributes.get(INPUT_MESSAGES))
    raw = attributes.get(SYSTEM_INSTRUCTIONS)
    if raw is None:
        return inputs
    try:
        parts = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        parts = raw
    if not isinstance(parts, list):
        return [text_message("system", str(parts)), *inputs]
    kept = [part for part in parts if isinstance(part, dict)]
    return [{"role": "system", "parts": kept}, *inputs]


def _flattened(attributes: Mapping[str, Any]) -> SpanMessages:
    """OpenInference's and the older GenAI attributes: one message per index, per side."""
    found: tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]] = ({}, {})
    sources = set()
    for key, value in attributes.items():
        match = _OPENINFERENCE.fullmatch(key) or _OLD_GENAI.fullmatch(key)
        if match is None:
            continue
        sources.add(key)
        message = found[_SIDE[match["side"]]].setdefault(int(match["index"]), {"parts": {}})
        part = match.groupdict().get("part")
        if part is not None:
            message["parts"][int(part)] = str(value)
        elif match["field"] == "role":
            message["role"] = str(value)
        else:
            message["parts"][-1] = str(value)
    inputs, outputs = ([_assembled(side[index]) for index in sorted(side)] for side in found)
    return SpanMessages(inputs, outputs, frozenset(sources))


def _assembled(message: dict[str, Any]) -> Message:
    parts = message["parts"]
    texts = [parts[i] for i in sorted(parts)]  # `content` (-1) before numbered parts
    return {
        "role": message.get("role", ""),
        "parts": [{"type": "text", "content": text} for text in texts],
    }


def _values(attributes: Mapping[str, Any]) -> SpanMessages:
    """`input.value` / `output.value`: one message each, text as given (JSON stays text)."""
    inputs = attributes.get("input.value")
    outputs = attributes.get("output.value")
    return SpanMessages(
        [] if inputs is None else [text_message("user", str(inputs))],
        [] if outputs is None else [text_message("assistant", str(outputs))],
        frozenset(k for k in ("input.value", "output.value") if attributes.get(k) is not None),
    )


# --- GenAI events (log records) ----------------------------------------------------------------

_ROLE_OF_EVENT: Final = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
CHOICE_EVENT: Final = "gen_ai.choice"
DETAILS_EVENT: Final = "gen_ai.client.inference.operation.details"


def event_messages(
    name: str, body: Any, attributes: Mapping[str, Any]
) -> tuple[list[Message], list[Message]] | None:
    """The (input, output) messages a GenAI event carries, or None if it is not one.

    Instrumentations emit one event per message (`gen_ai.user.message`, …, and `gen_ai.choice`
    per answer, whose body holds `message` and `finish_reason`), or one
    `gen_ai.client.inference.operation.details` event with the newer message attributes.
    """
    if name == DETAILS_EVENT:
        return _semconv_inputs(attributes), _semconv(attributes.get(OUTPUT_MESSAGES))
    fields = body if isinstance(body, dict) else {"content": body}
    if name in _ROLE_OF_EVENT:
        role = str(fields.get("role") or _ROLE_OF_EVENT[name])
        return [_from_fields(role, fields)], []
    if name == CHOICE_EVENT:
        inner = fields.get("message")
        message = _from_fields("assistant", inner if isinstance(inner, dict) else {})
        if "finish_reason" in fields:
            message["finish_reason"] = fields["finish_reason"]
        return [], [message]
    return None


def _from_fields(role: str, fields: Mapping[str, Any]) -> Message:
    content = fields.get("content")
    message = text_message(str(fields.get("role") or role), "" if content is None else str(content))
    if content is None:
        message["parts"] = []  # content capture was off in the app: the message is still there
    if tool_calls := fields.get("tool_calls"):
        message["parts"] += [
            {"type": "tool_call", **call} for call in tool_calls if isinstance(call, dict)
        ]
    return message


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    """One message of a span, from one log record."""

    trace_id: str
    span_id: str
    record: str
    """A digest of the record, so a re-sent record is stored once."""
    time_unix_nano: int
    position: int
    """The message's place among those of its record (a details event holds several)."""
    side: str
    """`input` or `output`."""
    message: Message
