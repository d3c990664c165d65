"""How a span and the feedback about it become a dataset example (its mapping).

By default `input` is the span's `gen_ai.input.messages` (else `input.value`), `output` its
`gen_ai.output.messages` (else `output.value`), `expected` the newest `expected` or correction
value in its feedback, and `metadata` `{capability, step, feedback: [{name, value, comment,
user_id}]}`. A mapping `{column: source}` overrides columns or paths inside them
(`"metadata.reason": "feedback.metadata.category"`); a source is `span.<attribute>`,
`trace.<attribute>` or `feedback.<field or path>` (the newest event that has it).
"""

from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from plaudit.core.datasets import COLUMNS, Example, make_content, span_example_id
from plaudit.core.genai import span_messages
from plaudit.core.validation import Issue

SOURCE_ROOTS: Final = ("span", "trace", "feedback")


@dataclass(slots=True)
class SpanFacts:
    """What is known about one span: its attributes, its trace's, and its feedback (oldest
    first, each in the API's event shape)."""

    trace_id: str
    span_id: str | None
    attributes: dict[str, Any] = field(default_factory=dict)
    trace_attributes: dict[str, Any] = field(default_factory=dict)
    capability: str | None = None
    step: str | None = None
    feedback: list[dict[str, Any]] = field(default_factory=list)


def check_mapping(raw: Any, pointer: str = "/mapping") -> dict[str, str] | list[Issue]:
    """A mapping from the request, or the issues with it."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        return [Issue(pointer, "a mapping is an object of column → source")]
    issues = []
    for column, source in raw.items():
        where = f"{pointer}/{column.replace('~', '~0').replace('/', '~1')}"
        if column.split(".", 1)[0] not in COLUMNS:
            issues.append(Issue(where, f"the column must be one of {', '.join(COLUMNS)}"))
        elif not isinstance(source, str) or source.split(".", 1)[0] not in SOURCE_ROOTS:
            issues.append(Issue(where, "a source is span.<attribute>, trace.<attribute> or "
                                       "feedback.<field>"))  # fmt: skip
        elif "." not in source or not source.split(".", 1)[1]:
            issues.append(Issue(where, "name the attribute or field after the dot"))
    return issues or dict(raw)


def _messages(value: Any) -> Any:
    """GenAI messages arrive as JSON text in span attributes; the example holds the JSON."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return msgspec.json.decode(value)
        except msgspec.DecodeError:
            return value
    return value


def default_input_output(attributes: dict[str, Any]) -> tuple[Any, Any]:
    """A span's (input, output) as examples hold them: each side's messages in whichever
    convention its instrumentation used (see `core.genai`), else that side's `input.value` /
    `output.value` as it is."""
    said = span_messages(attributes)
    read_messages = bool(said.sources - {"input.value", "output.value"})
    inputs = said.inputs if read_messages and said.inputs else None
    outputs = said.outputs if read_messages and said.outputs else None
    return (
        inputs or _messages(attributes.get("input.value")),
        outputs or _messages(attributes.get("output.value")),
    )


def _default_expected(feedback: list[dict[str, Any]]) -> Any:
    for event in reversed(feedback):
        if event.get("expected") is not None:
            return event["expected"]
        if event.get("kind") == "correction" and event.get("value") is not None:
            return event["value"]
    return None


def _path(value: Any, path: list[str]) -> Any:
    for key in path:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def resolve_source(facts: SpanFacts, source: str) -> Any:
    """The value a mapping source names for this span (None when it has none)."""
    root, _, rest = source.partition(".")
    if root in ("span", "trace"):
        attributes = facts.attributes if root == "span" else facts.trace_attributes
        if rest in attributes:
            return _messages(attributes[rest])
        return _path(attributes, rest.split("."))
    for event in reversed(facts.feedback):
        found = _path(event, rest.split("."))
        if found is not None:
            return found
    return None


def _set_path(content: dict[str, Any], column: str, value: Any) -> None:
    root, *path = column.split(".")
    if not path:
        content[root] = value
        return
    target = content[root] if isinstance(content[root], dict) else {}
    content[root] = target
    for key in path[:-1]:
        nested = target.get(key)
        if not isinstance(nested, dict):
            nested = {}
            target[key] = nested
        target = nested
    target[path[-1]] = value


def map_span(facts: SpanFacts, mapping: dict[str, str]) -> Example:
    """The example of a span under the default mapping with `mapping`'s overrides."""
    default_input, default_output = default_input_output(facts.attributes)
    content = make_content(
        input=default_input,
        output=default_output,
        expected=_default_expected(facts.feedback),
        metadata={
            "capability": facts.capability,
            "step": facts.step,
            "feedback": [
                {k: e.get(k) for k in ("name", "value", "comment", "user_id")}
                for e in facts.feedback
            ],
        },
        source={
            "trace_id": facts.trace_id,
            "span_id": facts.span_id,
            "feedback_ids": [e["id"] for e in facts.feedback],
        },
    )
    for column, source in sorted(mapping.items(), key=lambda item: item[0].count(".")):
        _set_path(content, column, resolve_source(facts, source))
    return Example(span_example_id(facts.trace_id, facts.span_id), content)
