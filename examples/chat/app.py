"""A chat app whose every answer can be rated in the browser, straight to Plaudit.

Each answer is made inside Plaudit spans (capability `chat`: a `chat-turn` span with a `respond`
step) and returned as JSON with its `links` and a per-span `feedback_token`. The page loads the
browser client from the Plaudit server (`/sdk/plaudit-feedback.js`) and sends, for the answer's
span: 👍/👎 (thumb `helpful`), 1–5 stars (number `stars`), an issue category (enum `issue`), a
comment (text `comment`), copy and regenerate (signals `copy`, `regenerate`) and an edited answer
(correction `correction`).

    python -m examples.chat --plaudit-url http://127.0.0.1:8000 --port 8001

With `--proxy-url` the answers come from a real model asked through Plaudit's proxy, and the
page rates the proxy's span (`examples/chat/proxied.py`).
"""

import json
from pathlib import Path
from typing import Any

import msgspec
from examples.chat import fake_llm
from examples.chat.proxied import ModelFailed, ProxiedModel, answer_through_proxy
from litestar import Litestar, get, post
from litestar.params import JSONBody
from litestar.response import Response

import plaudit.sdk as plaudit

PAGE = Path(__file__).with_name("page.html")


class Message(msgspec.Struct):
    """What the page sends: the user's message, who they are, and which try this is."""

    message: str
    user_id: str
    conversation_id: str | None = None
    attempt: int = 0


def answer(data: Message) -> dict[str, Any]:
    """The fake model's answer, traced, with what the browser needs to rate exactly it."""
    turn = plaudit.span(
        "chat-turn",
        capability="chat",
        conversation_id=data.conversation_id,
        user_id=data.user_id,
        **{"gen_ai.input.messages": json.dumps([{"role": "user", "content": data.message}])},
    )
    step = plaudit.span("respond", step="respond", **{"gen_ai.operation.name": "chat"})
    with turn, step as span:
        made = fake_llm.reply(data.message, data.attempt)
        span.set_attribute("gen_ai.request.model", made.model)
        span.set_attribute("gen_ai.usage.input_tokens", made.input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", made.output_tokens)
        output = [{"role": "assistant", "content": made.text}]
        span.set_attribute("gen_ai.output.messages", json.dumps(output))
        links = span.links()
    token = plaudit.feedback_token(links, ttl=3600, user_id=data.user_id)
    return {"answer": made.text, "links": links, "feedback_token": token}


def render_page(plaudit_url: str, browser_token: str | None) -> str:
    """The chat page, pointed at the Plaudit server's copy of the browser client."""
    config = {"plaudit_url": plaudit_url, "browser_token": browser_token}
    imports = {"imports": {"plaudit": f"{plaudit_url}/sdk/plaudit-feedback.js"}}
    # `</` inside a script element would end it early; JSON allows escaping the slash.
    return (
        PAGE.read_text()
        .replace("__IMPORTS__", json.dumps(imports).replace("</", "<\\/"))
        .replace("__CONFIG__", json.dumps(config).replace("</", "<\\/"))
    )


def create_app(
    plaudit_url: str,
    token: str | None = None,
    browser_token: str | None = None,
    model: ProxiedModel | None = None,
) -> Litestar:
    """The chat app, tracing to and rating on the Plaudit server at `plaudit_url`.

    `token` needs `traces:write` and `feedback:write` (none for a `--dev` server);
    `browser_token` is an optional `pk_` token for the page — per-span tokens work without it.
    With `model`, answers come from that model through Plaudit's proxy, not the canned ones.
    """
    public_url = plaudit_url.rstrip("/")

    @get("/", media_type="text/html")
    async def page() -> Response[str]:
        return Response(render_page(public_url, browser_token), media_type="text/html")

    @post("/api/chat")
    async def chat(data: JSONBody[Message]) -> Response[dict[str, Any]]:
        if model is None:
            return Response(answer(data))
        try:
            return Response(
                await answer_through_proxy(
                    model, data.message, data.user_id, data.conversation_id, data.attempt
                )
            )
        except ModelFailed as error:
            return Response({"error": str(error)}, status_code=502)

    @get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    def startup() -> None:
        plaudit.init(url=public_url, token=token, service_name="chat-demo")

    def shutdown() -> None:
        plaudit.shutdown(timeout=5)

    return Litestar([page, chat, healthz], on_startup=[startup], on_shutdown=[shutdown])
