"""`Feedback` builders: one method per kind of feedback, each answering a plain feedback dict.

The dict carries exactly the fields of the feedback event; `send(links, feedback)` adds the
target from `links`. Options left out stay out, so the server applies its defaults.
"""

import builtins
from typing import Any, Literal, TypedDict, Unpack


class Options(TypedDict, total=False):
    """Fields every builder takes besides `name` and `value` (docs/api.md lists them)."""

    comment: str
    expected: Any
    scores: dict[str, float]
    metadata: dict[str, Any]
    user_id: str
    tags: list[str]
    id: str
    source: Literal["end_user", "annotator", "evaluator", "app"]
    signal_type: Literal["default", "feedback", "edit", "standard", "agent"]
    implicit: builtins.bool
    timestamp: str
    conversation_id: str


def _event(kind: str, name: str, value: Any, options: Options) -> dict[str, Any]:
    event: dict[str, Any] = {"name": name, "kind": kind}
    if value is not None:
        event["value"] = value
    event.update((key, item) for key, item in options.items() if item is not None)
    return event


class Feedback:
    """Builders for feedback events: `Feedback.thumb_up(name="response-quality")`.

    Every builder also takes `comment`, `expected` (the right answer), `scores`
    (name → number), `metadata` (a JSON object), `user_id`, `tags`, and `id` (to choose the
    event's identity yourself), `source`, `signal_type`, `implicit` and `timestamp` (RFC 3339).
    """

    @staticmethod
    def thumb(
        name: str, value: int | Literal["up", "down"], **options: Unpack[Options]
    ) -> dict[str, Any]:
        """A thumb: +1 / -1 (or "up" / "down")."""
        return _event("thumb", name, value, options)

    @staticmethod
    def thumb_up(name: str, **options: Unpack[Options]) -> dict[str, Any]:
        """A 👍 (+1)."""
        return _event("thumb", name, 1, options)

    @staticmethod
    def thumb_down(name: str, **options: Unpack[Options]) -> dict[str, Any]:
        """A 👎 (-1)."""
        return _event("thumb", name, -1, options)

    @staticmethod
    def number(name: str, value: float, **options: Unpack[Options]) -> dict[str, Any]:
        """A number, e.g. stars (range-checked if the project declares one)."""
        return _event("number", name, value, options)

    @staticmethod
    def bool(name: str, value: builtins.bool, **options: Unpack[Options]) -> dict[str, Any]:
        """A yes/no answer ("was this resolved?")."""
        return _event("bool", name, value, options)

    @staticmethod
    def text(name: str, value: str, **options: Unpack[Options]) -> dict[str, Any]:
        """Free text (up to 16 KiB)."""
        return _event("text", name, value, options)

    @staticmethod
    def enum(name: str, value: str, **options: Unpack[Options]) -> dict[str, Any]:
        """A category ("hallucination"), checked against the project's config if declared."""
        return _event("enum", name, value, options)

    @staticmethod
    def signal(name: str, **options: Unpack[Options]) -> dict[str, Any]:
        """Something happened (copy, regenerate, share); implicit by default."""
        return _event("signal", name, None, options)

    @staticmethod
    def correction(name: str, value: Any, **options: Unpack[Options]) -> dict[str, Any]:
        """The output the user wanted instead (a string or any JSON)."""
        return _event("correction", name, value, options)

    @staticmethod
    def object(name: str, value: dict[str, Any], **options: Unpack[Options]) -> dict[str, Any]:
        """A JSON object of fields, each queryable by path (`value.step1.retry`)."""
        return _event("object", name, value, options)
