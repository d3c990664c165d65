"""A stand-in for a chat model: canned, deterministic answers, no network.

`attempt` picks another phrasing, so "regenerate" visibly answers differently.
"""

from dataclasses import dataclass

TOPICS = {
    "refund": (
        "Refunds reach your card 5 to 7 working days after the parcel arrives back with us.",
        "Once we receive the return, the refund takes about a week to show on your card.",
    ),
    "shipping": (
        "Orders placed before 2 pm ship the same day; delivery takes 1 to 3 days.",
        "We ship same-day before 2 pm, and parcels usually arrive within 3 days.",
    ),
    "password": (
        "Use 'Forgot password' on the sign-in page; the emailed link is valid for one hour.",
        "Click 'Forgot password' when signing in and follow the link we email you (1 hour).",
    ),
}
UNKNOWN = (
    "I'm not sure about that yet. Try asking about refunds, shipping or passwords.",
    "That one is beyond me for now: I know about refunds, shipping and passwords.",
)


@dataclass(frozen=True)
class Reply:
    """The model's answer with the usage numbers a real provider reports."""

    text: str
    model: str
    input_tokens: int
    output_tokens: int


def reply(message: str, attempt: int = 0) -> Reply:
    """Answer `message`; a higher `attempt` (a regeneration) picks another phrasing."""
    words = message.lower()
    variants = next((texts for topic, texts in TOPICS.items() if topic in words), UNKNOWN)
    text = variants[attempt % len(variants)]
    return Reply(text, "fake-chat-1", len(message.split()), len(text.split()))
