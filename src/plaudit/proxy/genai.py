"""A proxied call as GenAI semantic-convention attributes.

Requests and answers are OpenAI-shaped JSON: Chat Completions, Completions, Embeddings and
Responses. Messages become `gen_ai.input.messages` / `gen_ai.output.messages` in the
convention's shape (`[{"role", "parts": [{"type": "text", "content"}]}]`), stored as JSON text
because span attributes hold no nested objects. Anything unexpected in a body is skipped, never
an error: the call has already been answered by the time it is read.
"""

from __future__ import annotations

import json
from typing import Any, Final

import msgspec

from plaudit.core.genai import INPUT_MESSAGES, OUTPUT_MESSAGES, text_message

OPERATIONS: Final = {
    "chat/completions": "chat",
    "completions": "text_completion",
    "embeddings": "embeddings",
    "responses": "chat",
}
_REQUEST_NUMBERS: Final = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "max_output_tokens": "gen_ai.request.max_tokens",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
}


def endpoint_of(path: str) -> str | None:
    """The known endpoint a path ends in (`v1/chat/completions` → `chat/completions`), or None."""
    path = path.split("?", 1)[0].strip("/")
    for endpoint in OPERATIONS:
        if path == endpoint or path.endswith("/" + endpoint):
            return endpoint
    return None


def json_object(body: bytes) -> dict[str, Any] | None:
    """A body as a JSON object, or None when it is not one."""
    try:
        # msgspec reads a long conversation about 5 times faster than json, and this runs on
        # the event loop
        value = msgspec.json.decode(body)
    except msgspec.DecodeError:
        try:  # what msgspec refuses and json reads (NaN, integers past 64 bits)
            value = json.loads(body)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def json_text(value: Any) -> str:
    """`value` as JSON text, non-ASCII characters kept as they are (an attribute's value)."""
    try:
        return msgspec.json.encode(value).decode()
    except (TypeError, OverflowError):  # not expected of parsed JSON; json says it plainly
        return json.dumps(value, ensure_ascii=False)


def request_attributes(
    endpoint: str | None, body: dict[str, Any] | None, capture: bool
) -> dict[str, Any]:
    """What the request says: model, sampling parameters, and (if captured) its messages."""
    if body is None:
        return {}
    found: dict[str, Any] = {}
    if isinstance(model := body.get("model"), str):
        found["gen_ai.request.model"] = model
    for key, attribute in _REQUEST_NUMBERS.items():
        value = body.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            found[attribute] = value
    if capture and (messages := input_messages(endpoint, body)):
        found[INPUT_MESSAGES] = json_text(messages)
    return found


def input_messages(endpoint: str | None, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's prompt as GenAI messages (none for embeddings: their input is data)."""
    if endpoint == "embeddings":
        return []
    if isinstance(messages := body.get("messages"), list):
        return [_message(m) for m in messages if isinstance(m, dict)]
    if isinstance(prompt := body.get("prompt"), str):
        return [text_message("user", prompt)]
    if endpoint != "responses":
        return []
    found: list[dict[str, Any]] = []
    if isinstance(instructions := body.get("instructions"), str):
        found.append(text_message("system", instructions))
    given = body.get("input")
    if isinstance(given, str):
        found.append(text_message("user", given))
    elif isinstance(given, list):
        found.extend(_message(m) for m in given if isinstance(m, dict) and "role" in m)
    return found


def _message(message: dict[str, Any]) -> dict[str, Any]:
    role = str(message.get("role", "user"))
    parts = _parts(message.get("content"))
    for call in message.get("tool_calls") or []:
        if isinstance(call, dict):
            function = call.get("function") or {}
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.get("id"),
                    "name": function.get("name"),
                    "arguments": function.get("arguments"),
                }
            )
    if role == "tool":
        text = "".join(str(p.get("content", "")) for p in parts)
        call_id = message.get("tool_call_id")
        parts = [{"type": "tool_call_response", "id": call_id, "response": text}]
    return {"role": role, "parts": parts}


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else []:
        if isinstance(part, dict):
            text = part.get("text")
            kind = str(part.get("type", ""))
            if isinstance(text, str):
                parts.append({"type": "text", "content": text})
            elif kind:
                # images, audio and files: their kind, not their (possibly huge) data
                parts.append({"type": kind})
    return parts


def answer_attributes(body: dict[str, Any] | None, capture: bool) -> dict[str, Any]:
    """What a whole (not streamed) answer says: ids, model, finish reasons, usage, output."""
    if body is None:
        return {}
    if body.get("object") == "response" or "output" in body:
        return _response_api_attributes(body, capture)
    found = _identity(body)
    choices = [c for c in body.get("choices") or [] if isinstance(c, dict)]
    reasons = [str(c["finish_reason"]) for c in choices if c.get("finish_reason")]
    if reasons:
        found["gen_ai.response.finish_reasons"] = reasons
    found.update(usage_attributes(body.get("usage")))
    if capture and choices:
        found[OUTPUT_MESSAGES] = json_text([_choice_message(c) for c in choices])
    return found


def _identity(body: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if isinstance(response_id := body.get("id"), str):
        found["gen_ai.response.id"] = response_id
    if isinstance(model := body.get("model"), str):
        found["gen_ai.response.model"] = model
    return found


def _choice_message(choice: dict[str, Any]) -> dict[str, Any]:
    message = choice.get("message")
    if isinstance(message, dict):
        out = _message({**message, "role": message.get("role") or "assistant"})
    else:
        out = text_message("assistant", str(choice.get("text") or ""))
    if choice.get("finish_reason"):
        out["finish_reason"] = choice["finish_reason"]
    return out


def _response_api_attributes(body: dict[str, Any], capture: bool) -> dict[str, Any]:
    found = _identity(body)
    if isinstance(status := body.get("status"), str):
        found["gen_ai.response.finish_reasons"] = [status]
    found.update(usage_attributes(body.get("usage")))
    if capture:
        messages = [
            {"role": str(item.get("role", "assistant")), "parts": _parts(item.get("content"))}
            for item in body.get("output") or []
            if isinstance(item, dict) and item.get("type") == "message"
        ]
        if messages:
            found[OUTPUT_MESSAGES] = json_text(messages)
    return found


def usage_attributes(usage: Any) -> dict[str, Any]:
    """Token counts of a `usage` object (Chat Completions' or Responses' names)."""
    if not isinstance(usage, dict):
        return {}
    found: dict[str, Any] = {}
    for key, attribute in (
        ("prompt_tokens", "gen_ai.usage.input_tokens"),
        ("input_tokens", "gen_ai.usage.input_tokens"),
        ("completion_tokens", "gen_ai.usage.output_tokens"),
        ("output_tokens", "gen_ai.usage.output_tokens"),
    ):
        value = usage.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            found[attribute] = value
    return found
