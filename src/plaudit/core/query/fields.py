"""The fields a query can filter, group and measure by, and the path roots into JSON documents.

A field is written as a name (`capability`) or a root and a path (`metadata.plan`,
`value.edits.0.value`, `scores.relevance`, `span.gen_ai.request.model`). Everything a user writes
is checked here against a fixed catalogue and a strict character set, so the store can bind every
name and path segment as a parameter and never splice user text into SQL.
"""

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class FieldKind(StrEnum):
    """How a field is stored, which decides what can be done with it."""

    TEXT = "text"  # a plain string column
    BOOL = "bool"  # a plain boolean column (`implicit`)
    TAGS = "tags"  # a list of strings; `tags = "x"` means the list holds x
    VALUE = "value"  # the event's value: numbers, thumbs, bools and labels
    JSON = "json"  # a path into a JSON document


TEXT_FIELDS: Final = (
    "project", "id", "capability", "step", "name", "kind", "source", "user_id",
    "conversation_id", "trace_id", "span_id", "signal_type", "link_status", "comment",
)  # fmt: skip
"""Plain string columns of a feedback event."""

JSON_ROOTS: Final = ("value", "scores", "metadata", "span")
"""Path roots: `value.*` (object values), `scores.*`, `metadata.*`, the linked span's attributes."""

MESSAGES: Final = "messages"
"""Trace search only: the text of its spans' input and output messages, whichever convention
their instrumentation used (`messages contains "refund"`)."""

TRACE_ROOTS: Final = (*JSON_ROOTS, "feedback", MESSAGES)
"""Trace search adds `feedback.<name>` (the trace has feedback of that name whose value matches)
and `messages`."""

_PLAIN_ROOTS: Final = (MESSAGES,)
"""Roots that are whole fields, without a path."""

FLAT_ROOTS: Final = ("scores", "span", "feedback")
"""Roots whose remainder is one key: score names and span attribute names contain dots."""

SEGMENT: Final = re.compile(r"[A-Za-z0-9_-]+")
"""One path segment; an all-digit segment indexes an array."""

ATTRIBUTE_KEY: Final = re.compile(r"[A-Za-z0-9_.-]+")
"""A span attribute or score name (dots allowed: `gen_ai.request.model`)."""

MAX_PATH_SEGMENTS: Final = 8


@dataclass(frozen=True, slots=True)
class Field:
    """A reference to something stored on (or linked to) a feedback event."""

    root: str
    path: tuple[str, ...] = ()

    @property
    def kind(self) -> FieldKind:
        """How the field is stored."""
        if self.path:
            return FieldKind.JSON
        if self.root == "implicit":
            return FieldKind.BOOL
        if self.root == "tags":
            return FieldKind.TAGS
        if self.root == "value":
            return FieldKind.VALUE
        return FieldKind.TEXT

    @property
    def name(self) -> str:
        """The field as written in the text form."""
        return ".".join((self.root, *self.path))

    def __str__(self) -> str:
        return self.name


VALUE: Final = Field("value")


class FieldError(ValueError):
    """A field name that is not in the catalogue, or a malformed path."""


def parse_field(text: str, roots: tuple[str, ...] = JSON_ROOTS) -> Field:
    """The field a name denotes; FieldError says what is wrong with it.

    `roots` are the path roots allowed: trace search passes TRACE_ROOTS.
    """
    root, dot, rest = text.partition(".")
    if root in _PLAIN_ROOTS and root in roots:
        if dot:
            raise FieldError(f'`{root}` has no paths: write `{root} contains "some text"`')
        return Field(root)
    if not dot:
        if root in TEXT_FIELDS or root in ("implicit", "tags", "value"):
            return Field(root)
        if root in roots:
            raise FieldError(f"`{root}` needs a path, e.g. `{root}.{_EXAMPLE[root]}`")
        raise FieldError(f"unknown field `{text}`; fields are {', '.join(field_names())}")
    if root not in roots:
        raise FieldError(
            f"`{root}` has no paths; paths start with {', '.join(r + '.' for r in roots)}"
        )
    if root in FLAT_ROOTS:
        if not ATTRIBUTE_KEY.fullmatch(rest) or len(rest) > 128:
            raise FieldError(f"`{rest}` is not a valid key: use letters, digits, _ - and .")
        return Field(root, (rest,))
    segments = tuple(rest.split("."))
    if len(segments) > MAX_PATH_SEGMENTS:
        raise FieldError(f"a path has at most {MAX_PATH_SEGMENTS} segments")
    for segment in segments:
        if not SEGMENT.fullmatch(segment) or len(segment) > 128:
            raise FieldError(f"path segment `{segment}` is not valid: use letters, digits, _ and -")
    return Field(root, segments)


_EXAMPLE: Final = {
    "value": "step1.retry",
    "scores": "relevance",
    "metadata": "plan",
    "span": "gen_ai.request.model",
    "feedback": "response-quality",
}


def field_names() -> list[str]:
    """Every plain field and path root, for messages and docs."""
    return [*TEXT_FIELDS, "implicit", "tags", "value", *(f"{r}.*" for r in JSON_ROOTS)]
