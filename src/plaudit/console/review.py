"""The review page's parts: the questions a queue asks (with numbered choices for keys 1–9),
the item under review as the reviewer sees it, and the posted form back as answers."""

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import Connection

from plaudit.console.loop_pages import Choice, GivenFeedback, Question, ReviewItem
from plaudit.console.pages import Message
from plaudit.console.render import pretty
from plaudit.console.views.trace import shown
from plaudit.core.configs import FeedbackConfig
from plaudit.core.dataset_mapping import default_input_output
from plaudit.core.feedback import Kind
from plaudit.core.genai import span_messages
from plaudit.loop.annotations import Answer
from plaudit.store.dataset_sources import span_facts_for_trace
from plaudit.store.datasets import current_contents

FIELD: Final = "answer:"
FREE_TEXT: Final = (Kind.TEXT, Kind.CORRECTION, Kind.OBJECT)


def _values(config: FeedbackConfig | None) -> list[tuple[str, str]]:
    """(form value, label) of each choice a feedback name offers; none for free text."""
    kind = config.kind if config is not None else Kind.TEXT
    if kind is Kind.THUMB:
        return [("1", "👍 up"), ("-1", "👎 down")]
    if kind is Kind.BOOL:
        return [("true", "yes"), ("false", "no")]
    if kind is Kind.SIGNAL:
        return [("", "it happened")]
    if kind is Kind.ENUM and config is not None and config.enum_values:
        return [(v, v) for v in config.enum_values]
    low, high = (config.min, config.max) if config is not None else (None, None)
    if kind is Kind.NUMBER and low is not None and high is not None and 0 < high - low <= 10:
        return [(f"{v:g}", f"{v:g}") for v in range(int(low), int(high) + 1)]
    return []


def questions(names: Sequence[str], configs: Mapping[str, FeedbackConfig]) -> list[Question]:
    """One question per feedback name; choices numbered 1–9 across the page, in order."""
    found: list[Question] = []
    key = 0
    for name in names:
        config = configs.get(name)
        choices = []
        for value, label in _values(config):
            key += 1
            choices.append(Choice(str(key) if key <= 9 else "", value, label))
        kind = config.kind.value if config is not None else "text"
        found.append(Question(name, kind, config.description if config else "", choices))
    return found


def _typed(kind: Kind, text: str) -> Any:
    if kind is Kind.THUMB:
        return int(text) if text in ("1", "-1") else text
    if kind is Kind.NUMBER:
        try:
            return float(text)
        except ValueError:
            return text
    if kind is Kind.BOOL:
        return text == "true" if text in ("true", "false") else text
    return None if kind is Kind.SIGNAL else text


def answers_from_form(
    names: Sequence[str], configs: Mapping[str, FeedbackConfig], fields: Mapping[str, str]
) -> list[Answer]:
    """The answered questions; the comment goes with the first answer."""
    answers = []
    for name in names:
        if f"{FIELD}{name}" not in fields:
            continue
        text = fields[f"{FIELD}{name}"].strip()
        config = configs.get(name)
        kind = config.kind if config is not None else Kind.TEXT
        if not text and kind is not Kind.SIGNAL:
            continue
        answers.append(Answer(name, _typed(kind, text)))
    comment = fields.get("comment", "").strip()
    if answers and comment:
        answers[0].comment = comment
    return answers


def _messages(value: Any) -> list[Message]:
    if value is None:
        return []
    if isinstance(value, list):
        return shown(span_messages({"gen_ai.input.messages": value}).inputs)
    return [Message("", value if isinstance(value, str) else pretty(value))]


def review_item(connection: Connection, project: str, held: Any) -> ReviewItem:
    """The item as the reviewer sees it: its row's (else its span's) input and output, and the
    feedback its span has."""
    facts = None
    if held["trace_id"]:
        facts = span_facts_for_trace(connection, project, held["trace_id"], held["span_id"])
    attributes = facts.attributes if facts is not None else {}
    inputs, outputs = default_input_output(attributes)
    if held["dataset"] is not None:
        row = current_contents(connection, project, held["dataset"], [held["example_id"]])
        content = row.get(held["example_id"]) or {}
        inputs = content.get("input") if content.get("input") is not None else inputs
        outputs = content.get("output") if content.get("output") is not None else outputs
    given = [
        GivenFeedback(e["name"], _shown(e["value"]), e["user_id"] or "", e["source"],
                      e["comment"] or "")
        for e in (facts.feedback if facts is not None else [])
    ]  # fmt: skip
    return ReviewItem(
        held["id"], held["trace_id"], held["span_id"], held["dataset"], held["example_id"],
        _messages(_json_text(inputs)), _messages(_json_text(outputs)), given,
    )  # fmt: skip


def _json_text(value: Any) -> Any:
    """Span attributes hold messages as JSON text; decode it for display."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _shown(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else pretty(value)
