"""Per-span feedback tokens from the SDK (docs/browser.md).

`feedback_token(links)` answers a token the app hands to the browser with the AI response; the
browser can then send feedback on that one span only. With a signing key (`signing_key=` or
`PLAUDIT_SIGNING_KEY`, from `plaudit key create`) the token is minted right here, with no
request; without one, the SDK asks the server's `POST /v1/feedback-tokens`.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx

from plaudit.core.feedback_tokens import (
    DEFAULT_TTL_SECONDS,
    mint,
    new_claims,
    parse_signing_key,
)
from plaudit.sdk._safety import FeedbackRejected

if TYPE_CHECKING:
    from plaudit.sdk.client import Links

__all__ = ["DEFAULT_TTL_SECONDS", "TokenRequest", "feedback_token", "mint_offline"]


class TokenRequest(NamedTuple):
    """What a token is asked for: one span, for `ttl` seconds, maybe only some names or a user.

    The conversation of `links`, if any, is named too: feedback sent with the token may then
    carry that conversation and no other.
    """

    trace_id: str
    span_id: str
    ttl: float
    names: list[str] | None
    user_id: str | None
    conversation_id: str | None = None

    @classmethod
    def of(
        cls, links: Mapping[str, Any], ttl: float, names: list[str] | None, user_id: str | None
    ) -> "TokenRequest":
        """The request for `links` (which must name both the trace and the span)."""
        trace_id, span_id = links.get("trace_id"), links.get("span_id")
        if not isinstance(trace_id, str) or not isinstance(span_id, str):
            raise ValueError("a feedback token needs links with both trace_id and span_id")
        conversation = links.get("conversation_id")
        conversation_id = conversation if isinstance(conversation, str) and conversation else None
        return cls(trace_id, span_id, ttl, names, user_id, conversation_id)

    def body(self) -> dict[str, Any]:
        """The JSON body of `POST /v1/feedback-tokens`."""
        body: dict[str, Any] = {
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "ttl_seconds": self.ttl,
        }
        if self.names is not None:
            body["names"] = self.names
        if self.user_id is not None:
            body["user_id"] = self.user_id
        if self.conversation_id is not None:
            body["conversation_id"] = self.conversation_id
        return body


def mint_offline(signing_key: str, project: str | None, request: TokenRequest) -> str:
    """A token signed here with `signing_key` for `project` (default `default`)."""
    key_id, secret = parse_signing_key(signing_key)
    claims = new_claims(
        project or "default",
        request.trace_id,
        request.span_id,
        ttl_seconds=request.ttl,
        names=request.names,
        user_id=request.user_id,
        conversation_id=request.conversation_id,
    )
    return mint(key_id, secret, claims)


def parse_answer(response: httpx.Response) -> str:
    """The token of a `POST /v1/feedback-tokens` answer; FeedbackRejected if it refused."""
    if response.status_code != 200:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = None
        raise FeedbackRejected(
            None, f"no feedback token: {detail or response.text[:200]}", response.status_code
        )
    token = response.json().get("token")
    if not isinstance(token, str):
        raise FeedbackRejected(None, "the server's answer holds no token", response.status_code)
    return token


def feedback_token(
    links: "Links",
    ttl: float = DEFAULT_TTL_SECONDS,
    names: list[str] | None = None,
    user_id: str | None = None,
) -> str | None:
    """A token for feedback on the span of `links`, from the default client; None on failure.

    Args:
        links: `span.links()` or a traceparent.
        ttl: seconds the token is valid (1 s to 30 days; default 24 h).
        names: if given, only feedback with these names is allowed.
        user_id: if given, only this user's feedback is allowed (and it is filled in).
    """
    from plaudit.sdk.client import default_client

    return default_client().feedback_token(links, ttl, names, user_id)
