"""A stand-in for an LLM: deterministic answers from a tiny knowledge base, no network."""

from dataclasses import dataclass

KNOWLEDGE = {
    "refund": "Refunds reach your card 5 to 7 working days after we receive the parcel.",
    "shipping": "Orders placed before 2 pm ship the same day; delivery takes 1 to 3 days.",
    "password": "Use 'Forgot password' on the sign-in page; the link is valid for one hour.",
}


@dataclass(frozen=True)
class Completion:
    """What the model answered, with the usage numbers a real provider reports."""

    text: str
    model: str
    input_tokens: int
    output_tokens: int


def retrieve(question: str) -> list[str]:
    """The knowledge entries whose topic the question mentions."""
    words = question.lower()
    return [text for topic, text in KNOWLEDGE.items() if topic in words]


def complete(question: str, documents: list[str]) -> Completion:
    """Answer from the documents, or admit not knowing (a real model would be called here)."""
    text = " ".join(documents) or "Sorry, I don't know that yet. A colleague will follow up."
    return Completion(text, "fake-llm-1", len(question.split()), len(text.split()))
