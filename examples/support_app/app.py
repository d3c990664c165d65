"""A support assistant that collects end-user feedback with Plaudit.

Each answer is produced inside Plaudit spans (capability `support-agent`, steps `retrieve` and
`respond`) and returned with `links` and a per-span `feedback_token`. The browser sends 👍/👎
straight to Plaudit with that token — no long-lived key in the page — or posts it to this app's
`/feedback`, which forwards it with the SDK's background client.

Run it (with a Plaudit server running and a token that has traces:write and feedback:write):

    PLAUDIT_URL=http://127.0.0.1:8000 PLAUDIT_TOKEN=sk_… \
        uvicorn examples.support_app.app:app --port 8080
"""

from typing import Any

import msgspec
from examples.support_app import fake_llm
from litestar import Litestar, get, post
from litestar.params import JSONBody
from litestar.response import Response

import plaudit.sdk as plaudit


class Question(msgspec.Struct):
    """What the browser asks."""

    question: str
    user_id: str
    conversation_id: str | None = None


class Rating(msgspec.Struct):
    """A 👍/👎 the browser posts back here (the server-side path)."""

    links: dict[str, Any]
    rating: int
    user_id: str
    comment: str | None = None


@plaudit.span("retrieve", step="retrieve")
def retrieve(question: str) -> list[str]:
    documents = fake_llm.retrieve(question)
    plaudit.enrich_span(attributes={"retrieval.documents": len(documents)})
    return documents


def respond(question: str, documents: list[str]) -> str:
    with plaudit.span("respond", step="respond", **{"gen_ai.operation.name": "chat"}) as span:
        completion = fake_llm.complete(question, documents)
        span.set_attribute("gen_ai.request.model", completion.model)
        span.set_attribute("gen_ai.usage.input_tokens", completion.input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", completion.output_tokens)
        return completion.text


@post("/ask")
async def ask(data: JSONBody[Question]) -> dict[str, Any]:
    """Answer a question; the links and token let the browser rate exactly this answer."""
    with plaudit.span(
        "support-turn",
        capability="support-agent",
        conversation_id=data.conversation_id,
        user_id=data.user_id,
    ) as turn:
        answer = respond(data.question, retrieve(data.question))
        links = turn.links()
    token = plaudit.feedback_token(links, ttl=3600, names=["helpful"], user_id=data.user_id)
    return {"answer": answer, "links": links, "feedback_token": token}


@post("/feedback", status_code=202)
async def feedback(data: JSONBody[Rating]) -> dict[str, Any]:
    """Forward a rating with the SDK: queued at once, sent in the background."""
    event = plaudit.Feedback.thumb(
        name="helpful", value=data.rating, user_id=data.user_id, comment=data.comment
    )
    return {"id": plaudit.send(data.links, event)}


PAGE = """<!doctype html><meta charset="utf-8"><title>Support</title>
<form id="f"><input id="q" placeholder="Ask about refunds, shipping…"><button>Ask</button></form>
<p id="a"></p><button id="up" hidden>👍</button><button id="down" hidden>👎</button>
<script>
let last;
f.onsubmit = async (e) => {
  e.preventDefault();
  const r = await fetch("/ask", {method: "POST", headers: {"content-type": "application/json"},
    body: JSON.stringify({question: q.value, user_id: "demo-user"})});
  last = await r.json(); a.textContent = last.answer; up.hidden = down.hidden = false;
};
// The per-span token goes in the body of a text/plain request: no CORS preflight, no secret key.
const rate = (value) => navigator.sendBeacon(PLAUDIT_URL + "/v1/feedback", JSON.stringify(
  {token: last.feedback_token, feedback: [{name: "helpful", value, user_id: "demo-user"}]}));
up.onclick = () => rate("up"); down.onclick = () => rate("down");
</script>"""


def create_app(**plaudit_options: Any) -> Litestar:
    """The app; `plaudit_options` go to `plaudit.init` (default: the PLAUDIT_* variables)."""
    configured: dict[str, plaudit.Client] = {}

    @get("/", media_type="text/html")
    async def page() -> Response[str]:
        url = configured["client"].url or ""
        return Response(PAGE.replace("PLAUDIT_URL", repr(url)), media_type="text/html")

    def startup() -> None:
        configured["client"] = plaudit.init(service_name="support-app", **plaudit_options)

    def shutdown() -> None:
        plaudit.shutdown(timeout=5)

    return Litestar([page, ask, feedback], on_startup=[startup], on_shutdown=[shutdown])


app = create_app()
