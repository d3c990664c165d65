"""Datasets: the example shape, its ids and checks, and patches of examples.

An example is `{"id","input","output","expected","metadata","source","annotation_status"}`. Its
content (everything but the id) is hashed, so storing the same content again is a duplicate and
different content under a known id is a revision, as with feedback events.
"""

import hashlib
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

import msgspec

from plaudit.core.ids import is_event_id, is_span_id, is_trace_id, uuid7
from plaudit.core.validation import Issue, find_nul, issue_from_msgspec

MAX_EXAMPLES_PER_CALL: Final = 1_000
# The columns that hold any JSON, and the only top-level keys a PATCH may change.
COLUMNS: Final = ("input", "output", "expected", "metadata")
PATCHABLE: Final = (*COLUMNS, "annotation_status")

AnnotationStatus = Literal["empty", "filled"]
DatasetName = Annotated[
    str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")
]


class SourceIn(msgspec.Struct, forbid_unknown_fields=True):
    """Where an example came from: a span and the feedback ids about it."""

    trace_id: str | None = None
    span_id: str | None = None
    feedback_ids: list[str] = []


class ExampleIn(msgspec.Struct, forbid_unknown_fields=True):
    """An example as a client sends it."""

    id: str | None = None
    input: Any = None
    output: Any = None
    expected: Any = None
    metadata: dict[str, Any] | None = None
    source: SourceIn | None = None
    annotation_status: AnnotationStatus = "empty"


@dataclass(frozen=True, slots=True)
class Example:
    """One example: its id and its content (the JSON the API shows, minus the id)."""

    id: str
    content: dict[str, Any]

    @property
    def content_hash(self) -> str:
        """A stable digest of the content."""
        return content_hash(self.content)

    def to_json(self) -> dict[str, Any]:
        """The API's shape."""
        return {"id": self.id, **self.content}


def content_hash(content: dict[str, Any]) -> str:
    """A digest of an example's content, whatever its key order."""
    encoded = msgspec.json.encode(content, order="sorted")
    return hashlib.blake2b(encoded, digest_size=16).hexdigest()


def make_content(
    input: Any = None,
    output: Any = None,
    expected: Any = None,
    metadata: dict[str, Any] | None = None,
    source: dict[str, Any] | None = None,
    annotation_status: AnnotationStatus = "empty",
) -> dict[str, Any]:
    """An example's content with every key present."""
    return {
        "input": input,
        "output": output,
        "expected": expected,
        "metadata": metadata,
        "source": source,
        "annotation_status": annotation_status,
    }


def span_example_id(trace_id: str, span_id: str | None) -> str:
    """The example (and queue item) id of a span, so the same span always maps to one row."""
    return f"{trace_id}-{span_id}" if span_id else trace_id


def check_example(raw: Any, pointer: str) -> Example | list[Issue]:
    """One client example, or the issues with it (never raises on bad input)."""
    if not isinstance(raw, dict):
        return [Issue(pointer or "/", "an example must be a JSON object")]
    if where := find_nul(raw, pointer):
        return [Issue(where, "strings must not contain NUL characters")]
    try:
        item = msgspec.convert(raw, ExampleIn)
    except msgspec.ValidationError as error:
        return [issue_from_msgspec(pointer, error)]
    issues = _source_issues(item.source, f"{pointer}/source")
    if item.id is not None and not is_event_id(item.id):
        issues.append(Issue(f"{pointer}/id", "must be 1 to 64 characters of [A-Za-z0-9_-]"))
    if issues:
        return issues
    source = msgspec.to_builtins(item.source) if item.source is not None else None
    content = make_content(
        item.input, item.output, item.expected, item.metadata, source, item.annotation_status
    )
    return Example(item.id or uuid7(), content)


def _source_issues(source: SourceIn | None, pointer: str) -> list[Issue]:
    if source is None:
        return []
    issues = []
    if source.trace_id is not None and not is_trace_id(source.trace_id):
        issues.append(Issue(f"{pointer}/trace_id", "must be 32 lowercase hex characters"))
    if source.span_id is not None and not is_span_id(source.span_id):
        issues.append(Issue(f"{pointer}/span_id", "must be 16 lowercase hex characters"))
    return issues


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge key by key, `null` removes a key."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def patch_content(content: dict[str, Any], patch: Any) -> dict[str, Any] | list[Issue]:
    """An example's content with a PATCH deep-merged into it, or the issues with the patch."""
    if not isinstance(patch, dict):
        return [Issue("/", "a patch must be a JSON object")]
    if where := find_nul(patch, ""):
        return [Issue(where, "strings must not contain NUL characters")]
    issues = [
        Issue(f"/{key}", f"only {', '.join(PATCHABLE)} can be changed")
        for key in patch
        if key not in PATCHABLE
    ]
    status = patch.get("annotation_status", content["annotation_status"])
    if status not in ("empty", "filled"):
        issues.append(Issue("/annotation_status", "must be 'empty' or 'filled'"))
    if isinstance(patch.get("metadata"), list | str | int | float | bool):
        issues.append(Issue("/metadata", "must be a JSON object"))
    if issues:
        return issues
    patched = dict(content)
    for key, value in patch.items():
        patched[key] = value if key == "annotation_status" else merge_patch(content[key], value)
    if patched["metadata"] == {}:
        patched["metadata"] = None
    return patched
