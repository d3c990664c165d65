"""Answers from a real (OpenAI-compatible) model, asked through Plaudit's proxy.

With `--proxy-url http://127.0.0.1:8000/proxy/openai` the demo sends each question to that
endpoint's `/chat/completions` instead of its canned answers. The proxy records the call as a span
(a child of the demo's `chat-turn` span, by `traceparent`) and names it in the answer's headers:
`Plaudit-Trace-Id`, `Plaudit-Span-Id` and, because the demo asks for one, `Plaudit-Feedback-Token`.
The page rates exactly that span, with that token.
"""

from dataclasses import dataclass
from typing import Any

import httpx

import plaudit.sdk as plaudit


@dataclass(frozen=True)
class ProxiedModel:
    """Where to ask, which model, and with which keys."""

    proxy_url: str
    model: str
    plaudit_token: str | None
    provider_key: str | None


class ModelFailed(Exception):
    """The model (or the proxy) did not give an answer."""


async def answer_through_proxy(
    model: ProxiedModel, message: str, user_id: str, conversation_id: str | None, attempt: int
) -> dict[str, Any]:
    """Ask the model through the proxy; the answer with the links and token of the proxy's span."""
    with plaudit.span(
        "chat-turn", capability="chat", conversation_id=conversation_id, user_id=user_id
    ) as turn:
        parent = turn.links()
        headers = {
            "Plaudit-Capability": "chat",
            "Plaudit-Step": "respond",
            "Plaudit-User-Id": user_id,
            "Plaudit-Feedback-Token": "request",
        }
        if parent["trace_id"] and parent["span_id"]:
            headers["traceparent"] = f"00-{parent['trace_id']}-{parent['span_id']}-01"
        if conversation_id:
            headers["Plaudit-Conversation-Id"] = conversation_id
        if model.plaudit_token:
            headers["Plaudit-Auth"] = f"Bearer {model.plaudit_token}"
        if model.provider_key:
            headers["Authorization"] = f"Bearer {model.provider_key}"
        body: dict[str, Any] = {
            "model": model.model,
            "messages": [{"role": "user", "content": message}],
        }
        if attempt:  # a regeneration: ask for a different answer
            body["temperature"] = 1.0
        async with httpx.AsyncClient(timeout=60) as client:
            reply = await client.post(
                f"{model.proxy_url.rstrip('/')}/chat/completions", json=body, headers=headers
            )
    if reply.status_code != 200:
        raise ModelFailed(f"the model answered {reply.status_code}: {reply.text[:500]}")
    text = reply.json()["choices"][0]["message"]["content"]
    links = {
        "trace_id": reply.headers.get("plaudit-trace-id"),
        "span_id": reply.headers.get("plaudit-span-id"),
        "capability": "chat",
        "step": "respond",
        "conversation_id": conversation_id,
    }
    return {
        "answer": text,
        "links": links,
        "feedback_token": reply.headers.get("plaudit-feedback-token"),
    }
