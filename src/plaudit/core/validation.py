"""Raw client JSON → `FeedbackEvent`, or the list of precise issues that stop it.

Never raises on bad input: every problem becomes an `Issue` carrying the JSON pointer of the field,
so one bad item in a batch rejects that item and names what to fix.
"""

import hashlib
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from plaudit.core import limits
from plaudit.core.configs import FeedbackConfig
from plaudit.core.feedback import (
    THUMB_WORDS,
    FeedbackEvent,
    FeedbackIn,
    Kind,
    SignalType,
    Source,
)
from plaudit.core.ids import is_span_id, is_trace_id, parse_traceparent, uuid7


class Issue(msgspec.Struct, frozen=True, omit_defaults=True):
    """One reason an input was refused: where (JSON pointer) and what to fix."""

    pointer: str
    message: str
    limit: str | None = None


_MSGSPEC_PATH: Final = re.compile(r" - at (?P<key>`key` in )?`\$(?P<path>[^`]*)`$")
_PATH_PART: Final = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[\.\.\.\]")


def issue_from_msgspec(prefix: str, error: msgspec.ValidationError) -> Issue:
    """Turn msgspec's "... - at `$.a[0].b`" into a JSON pointer and a message."""
    text = str(error)
    match = _MSGSPEC_PATH.search(text)
    parts = []
    if match is not None:
        parts = [m.group(1) or m.group(2) or "" for m in _PATH_PART.finditer(match.group("path"))]
        text = text[: match.start()]
    if unknown := _UNKNOWN_FIELD.match(text):
        parts.append(unknown.group(1))
        text = "unknown field; see the feedback fields in docs/api.md"
    elif missing := _MISSING_FIELD.match(text):
        parts.append(missing.group(1))
        text = "is required"
    if match is not None and match.group("key"):
        text = f"a key here: {text[0].lower()}{text[1:]}"
    pointer = prefix + "".join("/" + escape_pointer(p) for p in parts if p)
    if "matching regex" in text and parts and parts[-1] in _PATTERN_MEANING:
        text = _PATTERN_MEANING[parts[-1]]
    limit = _LIMIT_BY_FIELD.get(parts[0] if parts else "") if "length" in text else None
    if match is not None and match.group("key") and limit is not None:
        limit = "name_chars"
    return Issue(pointer or "/", text[0].lower() + text[1:], limit)


_UNKNOWN_FIELD: Final = re.compile(r"Object contains unknown field `([^`]*)`")
_MISSING_FIELD: Final = re.compile(r"Object missing required field `([^`]*)`")
_PATTERN_MEANING: Final = {
    "id": "must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -",
    "trace_id": "must be 32 hex characters",
    "span_id": "must be 16 hex characters",
}
_LIMIT_BY_FIELD: Final = {
    "name": "name_chars",
    "capability": "name_chars",
    "step": "name_chars",
    "tags": "tags",
    "scores": "scores",
    "id": "id_chars",
    "conversation_id": "conversation_id_chars",
    "response_id": "response_id_chars",
    "user_id": "user_id_chars",
    "comment": "text_bytes",
}


def escape_pointer(segment: str) -> str:
    """Escape one JSON pointer segment (RFC 6901)."""
    return segment.replace("~", "~0").replace("/", "~1")


def infer_kind(value: Any) -> Kind:
    """The kind a value implies when the client names none."""
    if value is None or value is msgspec.UNSET:
        return Kind.SIGNAL
    if isinstance(value, bool):
        return Kind.BOOL
    if isinstance(value, int | float):
        return Kind.NUMBER
    if isinstance(value, str):
        return Kind.THUMB if value in THUMB_WORDS else Kind.TEXT
    if isinstance(value, dict):
        return Kind.OBJECT
    return Kind.CORRECTION


def utf8_size(text: str) -> int:
    """Bytes of `text` in UTF-8; cheap for short strings, which cannot exceed the limits."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def nesting(value: Any) -> tuple[int, int, int]:
    """(object levels, array levels, total depth) of the deepest path through `value`.

    Iterative, so a value nested hundreds of levels deep (which the JSON decoder still accepts)
    is measured and refused instead of exhausting the interpreter's stack.
    """
    most_objects = most_arrays = most_depth = 0
    stack: list[tuple[Any, int, int, int]] = [(value, 0, 0, 0)]
    while stack:
        item, objects, arrays, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
            objects, depth = objects + 1, depth + 1
        elif isinstance(item, list):
            children = item
            arrays, depth = arrays + 1, depth + 1
        else:
            continue
        most_objects = max(most_objects, objects)
        most_arrays = max(most_arrays, arrays)
        most_depth = max(most_depth, depth)
        stack.extend((child, objects, arrays, depth) for child in children)
    return most_objects, most_arrays, most_depth


_LONG_DIGIT_RUN: Final = re.compile(rb"\d{19}")


def holds_huge_integer(value: Any) -> bool:
    """Whether an integer in `value` lies outside the signed 64-bit range.

    JSON allows any integer and msgspec decodes them all, but the stores' number types (SQLite
    integers, PostgreSQL float8 in queries and rollups) do not hold them.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, int) and not -(2**63) <= item < 2**63:
            return True
    return False


def find_nul(value: Any, pointer: str) -> str | None:
    """The pointer of the first string (or key) holding a NUL character, if any (iterative)."""
    stack: list[tuple[Any, str]] = [(value, pointer)]
    while stack:
        item, here = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return here
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                where = f"{here}/{escape_pointer(str(key))}"
                stack += [(child, where), (str(key), where)]
        elif isinstance(item, list):
            stack.extend((item[i], f"{here}/{i}") for i in reversed(range(len(item))))
    return None


def _encoded_if_shallow(value: Any) -> bytes | None:
    """`value` as JSON, or None when it nests deeper than `limits.MAX_JSON_DEPTH`.

    Each level opens a bracket, so an encoding with no more brackets than the limit cannot be
    too deep: most values skip the walk that measures their depth.
    """
    try:
        encoded = msgspec.json.encode(value)
    except RecursionError:
        return None
    brackets = encoded.count(b"{") + encoded.count(b"[")
    if brackets > limits.MAX_JSON_DEPTH and nesting(value)[2] > limits.MAX_JSON_DEPTH:
        return None
    return encoded


class _Checker:
    """Collects issues for one item while its fields are normalised."""

    def __init__(self, pointer: str) -> None:
        self.pointer = pointer
        self.issues: list[Issue] = []

    def add(self, field: str, message: str, limit: str | None = None) -> None:
        where = f"{self.pointer}/{field}" if field else self.pointer
        self.issues.append(Issue(where or "/", message, limit))

    def text(self, field: str, text: str | None, limit: int = limits.MAX_TEXT_BYTES) -> None:
        if text is not None and len(text) * 4 > limit and utf8_size(text) > limit:
            self.add(field, f"is longer than {limit} bytes of UTF-8", "text_bytes")

    def json_size(self, field: str, value: Any, limit: int, limit_name: str) -> None:
        if value is None:
            return
        encoded = _encoded_if_shallow(value)
        if encoded is None:
            self.add(field, f"is nested deeper than {limits.MAX_JSON_DEPTH} levels", "json_depth")
            return
        if len(encoded) > limit:
            self.add(field, f"is larger than {limit} bytes as JSON", limit_name)
            return
        # Only a run of 19+ digits can be such an integer: most values skip the second walk.
        if _LONG_DIGIT_RUN.search(encoded) and holds_huge_integer(value):
            self.add(field, "holds an integer beyond the 64-bit range, which cannot be stored")


def _target(item: FeedbackIn, check: _Checker) -> tuple[str | None, str | None]:
    trace_id = item.trace_id.lower() if item.trace_id is not None else None
    span_id = item.span_id.lower() if item.span_id is not None else None
    if trace_id is not None and not is_trace_id(trace_id):
        check.add("trace_id", "must be 32 hex characters and not all zero")
    if span_id is not None and not is_span_id(span_id):
        check.add("span_id", "must be 16 hex characters and not all zero")
    if item.traceparent is not None:
        parsed = parse_traceparent(item.traceparent)
        if parsed is None:
            check.add("traceparent", "must be a W3C traceparent: 00-<32 hex>-<16 hex>-<2 hex>")
        elif (trace_id or parsed[0]) != parsed[0] or (span_id or parsed[1]) != parsed[1]:
            check.add("traceparent", "names a different trace or span than trace_id/span_id")
        else:
            trace_id, span_id = parsed
    named = (trace_id, span_id, item.conversation_id, item.response_id)
    if all(target is None for target in named):
        check.add(
            "", "needs a target: trace_id, span_id, traceparent, conversation_id or response_id"
        )
    return trace_id, span_id


def _kind_and_value(
    item: FeedbackIn, config: FeedbackConfig | None, check: _Checker
) -> tuple[Kind, Any]:
    value = None if item.value is msgspec.UNSET else item.value
    kind = item.kind or (config.kind if config else None) or infer_kind(value)
    if config is not None and kind is not config.kind:
        check.add("kind", f"{item.name!r} is declared as {config.kind.value!r}, not {kind.value!r}")
        return kind, value
    value = _checked_value(kind, value, check)
    if config is not None and not check.issues and (problem := config.problem_with(value)):
        check.add("value", problem)
    return kind, value


def _utc_representable(moment: datetime) -> bool:
    """Whether an aware time still falls within years 1 to 9999 once converted to UTC."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return False
    return True


def _finite(number: float) -> bool:
    """Whether a JSON number is a finite float; integers too large for a float are not."""
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


def _checked_value(kind: Kind, value: Any, check: _Checker) -> Any:  # noqa: C901 - one branch per kind
    if kind is Kind.THUMB:
        if isinstance(value, str) and value in THUMB_WORDS:
            return THUMB_WORDS[value]
        if not isinstance(value, bool) and value in (1, -1):
            return int(value)
        check.add("value", 'a thumb is +1 or -1 (or "up" / "down")')
    elif kind is Kind.NUMBER:
        if isinstance(value, int | float) and not isinstance(value, bool) and _finite(value):
            # Integers beyond 64 bits are kept as the double they are anyway in `value_num`, so
            # both stores hold (and answer) the same number.
            return float(value) if holds_huge_integer(value) else value
        check.add("value", "a number value must be a finite number")
    elif kind is Kind.BOOL:
        if isinstance(value, bool):
            return value
        check.add("value", "a bool value must be true or false")
    elif kind in (Kind.TEXT, Kind.ENUM):
        if isinstance(value, str) and (
            kind is Kind.TEXT or 0 < len(value) <= limits.MAX_NAME_CHARS
        ):
            check.text("value", value)
            return value
        size = (
            "a string" if kind is Kind.TEXT else f"a string of 1 to {limits.MAX_NAME_CHARS} chars"
        )
        check.add("value", f"a {kind.value} value must be {size}")
    elif kind is Kind.SIGNAL:
        if value is None:
            return None
        check.add("value", "a signal has no value (omit it or send null)")
    elif kind is Kind.CORRECTION:
        if value is None:
            check.add("value", "a correction needs the output the user wanted")
        elif isinstance(value, str):
            check.text("value", value)
        else:
            check.json_size("value", value, limits.MAX_JSON_FIELD_BYTES, "json_field_bytes")
        return value
    elif kind is Kind.OBJECT:
        if not isinstance(value, dict):
            check.add("value", "an object value must be a JSON object")
            return value
        objects, arrays, _ = nesting(value)
        if objects > limits.MAX_OBJECT_LEVELS or arrays > limits.MAX_ARRAY_LEVELS:
            check.add(
                "value",
                f"an object value may nest at most {limits.MAX_OBJECT_LEVELS} object levels "
                f"and {limits.MAX_ARRAY_LEVELS} array levels",
                "object_levels",
            )
        else:
            check.json_size("value", value, limits.MAX_JSON_FIELD_BYTES, "json_field_bytes")
    return value


def _expected(item: FeedbackIn, check: _Checker) -> Any:
    both = item.ground_truth is not None and item.expected is not None
    if both and item.ground_truth != item.expected:
        check.add("ground_truth", "is an alias of expected; send one of them")
    expected = item.expected if item.expected is not None else item.ground_truth
    if isinstance(expected, str):
        check.text("expected", expected)
    else:
        check.json_size("expected", expected, limits.MAX_JSON_FIELD_BYTES, "json_field_bytes")
    return expected


def _at_the_score(raw: dict[str, Any], issue: Issue, pointer: str) -> Issue:
    """`issue` pointed at the bad score itself when it is about a score's type.

    msgspec reports a bad dict value as `$.scores[...]`, without its key; the client needs to
    know which score to fix, so the first one that is not a number is named here.
    """
    scores = raw.get("scores")
    if issue.pointer != f"{pointer}/scores" or not isinstance(scores, dict):
        return issue
    if not issue.message.startswith("expected `float`"):
        return issue  # about the key or the number of scores: `/scores` is right
    for key, score in scores.items():
        if isinstance(score, bool) or not isinstance(score, int | float):
            return Issue(f"{pointer}/scores/{escape_pointer(key)}", issue.message, issue.limit)
    return issue


def content_hash(content: Mapping[str, Any]) -> str:
    """A stable digest of an event's client-sent content (key order does not matter)."""
    encoded = msgspec.json.encode(content, order="sorted")
    return hashlib.blake2b(encoded, digest_size=16).hexdigest()


def validate_feedback(
    raw: Any,
    *,
    pointer: str,
    now: datetime,
    configs: Mapping[str, FeedbackConfig],
    forced_source: Source | None = None,
    check_nul: bool = True,
) -> FeedbackEvent | list[Issue]:
    """Validate one raw feedback item; `pointer` locates it in the request body."""
    if not isinstance(raw, dict):
        return [Issue(pointer or "/", "a feedback event must be a JSON object")]
    if check_nul and (where := find_nul(raw, pointer)):
        return [Issue(where, "strings must not contain NUL characters")]
    try:
        item = msgspec.convert(raw, FeedbackIn)
    except msgspec.ValidationError as error:
        return [_at_the_score(raw, issue_from_msgspec(pointer, error), pointer)]
    check = _Checker(pointer)
    if item.timestamp is not None and not _utc_representable(item.timestamp):
        check.add("timestamp", "must be a time between the years 1 and 9999 in UTC")
    trace_id, span_id = _target(item, check)
    kind, value = _kind_and_value(item, configs.get(item.name), check)
    check.text("comment", item.comment)
    expected = _expected(item, check)
    if item.metadata is not None:
        check.json_size("metadata", item.metadata, limits.MAX_METADATA_BYTES, "metadata_bytes")
    if item.scores is not None:
        for key, score in item.scores.items():
            if not math.isfinite(score):
                check.add(f"scores/{escape_pointer(key)}", "scores must be finite numbers")
    if check.issues:
        return check.issues
    source = forced_source or item.source or Source.END_USER
    tags = sorted(set(item.tags)) if item.tags else []
    implicit = item.implicit if item.implicit is not None else kind is Kind.SIGNAL
    signal_type = item.signal_type or SignalType.DEFAULT
    content = {
        "trace_id": trace_id,
        "span_id": span_id,
        "conversation_id": item.conversation_id,
        "capability": item.capability,
        "step": item.step,
        "name": item.name,
        "kind": kind,
        "value": value,
        "comment": item.comment,
        "expected": expected,
        "scores": item.scores,
        "signal_type": signal_type,
        "source": source,
        "implicit": implicit,
        "user_id": item.user_id,
        "metadata": item.metadata,
        "tags": tags,
        "timestamp": item.timestamp,
    }
    if item.response_id is not None:  # absent from the hash when absent: older ids keep theirs
        content["response_id"] = item.response_id
    digest = content_hash(content)
    del content["timestamp"]  # the event's own is the server's time when the client sent none
    return FeedbackEvent(
        id=item.id or uuid7(),
        id_was_given=item.id is not None,
        timestamp=item.timestamp or now,
        content_hash=digest,
        **content,
    )
