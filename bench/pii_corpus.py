"""A labelled corpus for bench/pii.py: feedback sentences with PII in them, and look-alikes without.

Every text is generated from a seed, so a run is repeatable and nothing is copied from real
people; the values come from bench/pii_values.py. Each positive text labels the characters of
its PII with a type (the values of `plaudit.core.pii.PiiType`). Each look-alike ("decoy": an
order number, a date, a hash, a card number failing its checksum…) is marked too, with its
category, so that a false positive can be traced to what caused it.

What the detector's docstrings leave out on purpose is kept out of the positives and scored
apart, as "limits", so the bench shows what becomes of it: phone numbers of other countries in
national form (national numbers are read as US numbers), lowercase IBANs, IPv6 addresses with
fewer than three colons, SSNs without separators, UK NI numbers without their final letter, and
a password in a URL (`user:password@host`), which `find_pii` reports as the email address it
also looks like.

This module needs only the standard library, so the corpus does not depend on the detector.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bench.pii_values import CLOSE, DECOY_MAKERS, LIMIT_MAKERS, OPEN, POSITIVE_MAKERS, Maker

DEFAULT_SEED = 20261203
PER_TYPE = 72  # positive texts per PII type
PER_DECOY_MAKER = 4  # texts per look-alike maker
MIXED_SHARE = 3  # one positive text in this many also holds a look-alike


@dataclass(frozen=True, slots=True)
class Span:
    """`text[start:end]` is PII of `kind` (a PiiType value) or a look-alike of category `kind`."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Example:
    """One feedback text, its labelled PII and its marked look-alikes."""

    text: str
    labels: tuple[Span, ...]
    decoys: tuple[Span, ...]
    limits: tuple[Span, ...] = ()  # PII the detector leaves out on purpose, by limit


# --- sentences --------------------------------------------------------------------------

_POSITIVE_SENTENCES: dict[str, tuple[str, ...]] = {
    "email": (
        "You can reach me at {} if it happens again.",
        "The bot sent the summary to {} instead of my team.",
        "Please update my contact, it's {} now",
        "Contact: {}.",
    ),
    "phone": (
        "Call me on {} and I'll explain.",
        "It gave out my number ({}) to the other user!",
        "The support line it suggested, {}, does not exist.",
    ),
    "card": (
        "I pasted my card {} by mistake, please delete it.",
        "Why does the receipt show the full card number {}?",
        "charged twice on {} exp 12/27",
    ),
    "iban": (
        "Refund to IBAN {} please.",
        "It wrote my account as {} in the letter.",
        "Wrong bank details: {}, BIC DEUTDEFF",
    ),
    "national_id": (
        "The form asked for my SSN and I typed {} here by accident.",
        "NI number {} was read back to me in the chat.",
        "my id is {}",
    ),
    "ip": (
        "Blocked from {} again, same as yesterday.",
        "The logs it quoted show my address {}",
        "Connection refused when calling {} from the office.",
    ),
    "secret": (
        "Oops, the snippet it generated contains my key: {}",
        "I accidentally shared {} in the prompt, can you purge it?",
        "It echoed {} back in the answer.",
    ),
}

_DECOY_SENTENCES = (
    "The answer got {} wrong.",
    "It quoted {} instead of the right one.",
    "I asked about {} and it changed the subject.",
    "Why does it show {} here?",
    "Thanks, {} was exactly what I needed.",
    "Looks fine except for {}.",
)

_GENERIC_SENTENCES = (
    "{}",
    "Answer was fine but it repeated {} twice.",
    "Bad answer. It said: {}",
)


def _unmark(marked: str) -> tuple[str, int, int]:
    """The text without markers and where the PII sits in it."""
    if OPEN not in marked:
        return marked, 0, len(marked)
    start = marked.index(OPEN)
    end = marked.index(CLOSE) - len(OPEN)
    return marked.replace(OPEN, "").replace(CLOSE, ""), start, end


def _fill(sentence: str, marked: str, kind: str) -> tuple[str, Span]:
    value, start, end = _unmark(marked)
    offset = sentence.index("{}")
    return sentence.replace("{}", value, 1), Span(kind, offset + start, offset + end)


def _positive(rng: random.Random, kind: str, maker: Maker) -> Example:
    sentence = rng.choice(_POSITIVE_SENTENCES[kind] + _GENERIC_SENTENCES)
    text, label = _fill(sentence, maker(rng), kind)
    return Example(text, (label,), ())


def _decoy(rng: random.Random, category: str, maker: Maker) -> Example:
    text, span = _fill(rng.choice(_DECOY_SENTENCES), maker(rng), category)
    return Example(text, (), (span,))


def _joined(first: Example, second: Example) -> Example:
    """Both texts as one, separated by a space, with the second's spans moved along."""
    shift = len(first.text) + 1

    def moved(spans: tuple[Span, ...]) -> tuple[Span, ...]:
        return tuple(Span(s.kind, s.start + shift, s.end + shift) for s in spans)

    return Example(
        f"{first.text} {second.text}",
        first.labels + moved(second.labels),
        first.decoys + moved(second.decoys),
    )


def _limit(rng: random.Random, name: str, maker: Maker) -> Example:
    text, span = _fill(rng.choice(_GENERIC_SENTENCES), maker(rng), name)
    return Example(text, (), (), (span,))


def _random_decoy(rng: random.Random) -> Example:
    category = rng.choice(sorted(DECOY_MAKERS))
    return _decoy(rng, category, rng.choice(DECOY_MAKERS[category]))


def build_corpus(seed: int = DEFAULT_SEED) -> list[Example]:
    """Every example, the same list for the same seed.

    Each PII type has PER_TYPE positive texts, going through its makers in turn so every format
    appears; one in MIXED_SHARE also holds a look-alike before or after the PII. Each look-alike
    maker gives PER_DECOY_MAKER texts of its own, and so does each maker of a documented limit.
    """
    rng = random.Random(seed)
    corpus: list[Example] = []
    for kind, makers in POSITIVE_MAKERS.items():
        for index in range(PER_TYPE):
            example = _positive(rng, kind, makers[index % len(makers)])
            if index % MIXED_SHARE == 0:
                decoy = _random_decoy(rng)
                pair = (example, decoy) if rng.random() < 0.5 else (decoy, example)
                example = _joined(*pair)
            corpus.append(example)
    for category, makers in DECOY_MAKERS.items():
        for maker in makers:
            corpus.extend(_decoy(rng, category, maker) for _ in range(PER_DECOY_MAKER))
    for name, makers in LIMIT_MAKERS.items():
        for maker in makers:
            corpus.extend(_limit(rng, name, maker) for _ in range(PER_DECOY_MAKER))
    return corpus
