"""The feedback event: its kinds, sources, wire shape and validated form."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final

import msgspec

from plaudit.core import limits
from plaudit.core.ids import EVENT_ID_PATTERN


class Kind(StrEnum):
    """What kind of reaction an event records, which decides the shape of its `value`."""

    THUMB = "thumb"
    NUMBER = "number"
    BOOL = "bool"
    TEXT = "text"
    ENUM = "enum"
    SIGNAL = "signal"
    CORRECTION = "correction"
    OBJECT = "object"


class Source(StrEnum):
    """Who gave the feedback."""

    END_USER = "end_user"
    ANNOTATOR = "annotator"
    EVALUATOR = "evaluator"
    APP = "app"


class SignalType(StrEnum):
    """The peers' signal taxonomy, kept so feedback can move between systems."""

    DEFAULT = "default"
    FEEDBACK = "feedback"
    EDIT = "edit"
    STANDARD = "standard"
    AGENT = "agent"


class LinkStatus(StrEnum):
    """Whether the span or trace an event is about has been stored yet."""

    PENDING = "pending"
    LINKED = "linked"


ShortText = Annotated[str, msgspec.Meta(max_length=limits.MAX_NAME_CHARS)]
LongText = Annotated[str, msgspec.Meta(max_length=limits.MAX_TEXT_BYTES)]
UserText = Annotated[str, msgspec.Meta(max_length=limits.MAX_USER_ID_CHARS)]
HexId = Annotated[str, msgspec.Meta(pattern="^[0-9a-fA-F]+$")]


class FeedbackIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One feedback event as a client sends it; shape checks only, meaning is checked later."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=limits.MAX_NAME_CHARS)]
    id: Annotated[str, msgspec.Meta(pattern=EVENT_ID_PATTERN)] | None = None
    trace_id: HexId | None = None
    span_id: HexId | None = None
    traceparent: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    conversation_id: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=limits.MAX_CONVERSATION_ID_CHARS)]
        | None
    ) = None
    response_id: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=limits.MAX_RESPONSE_ID_CHARS)] | None
    ) = None
    capability: ShortText | None = None
    step: ShortText | None = None
    kind: Kind | None = None
    value: Any = msgspec.UNSET
    comment: LongText | None = None
    expected: Any = None
    ground_truth: Any = None
    scores: Annotated[dict[ShortText, float], msgspec.Meta(max_length=limits.MAX_SCORES)] | None = (
        None
    )
    signal_type: SignalType | None = None
    source: Source | None = None
    implicit: bool | None = None
    user_id: UserText | None = None
    metadata: dict[str, Any] | None = None
    tags: Annotated[list[ShortText], msgspec.Meta(max_length=limits.MAX_TAGS)] | None = None
    timestamp: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    project: ShortText | None = None


class FeedbackEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A validated, normalised feedback event, ready to store.

    `content_hash` covers exactly what the client sent, so a retry is a duplicate and a changed
    event is a revision, whatever the server filled in.
    """

    id: str
    name: str
    kind: Kind
    value: Any
    trace_id: str | None
    span_id: str | None
    conversation_id: str | None
    capability: str | None
    step: str | None
    comment: str | None
    expected: Any
    scores: dict[str, float] | None
    signal_type: SignalType
    source: Source
    implicit: bool
    user_id: str | None
    metadata: dict[str, Any] | None
    tags: list[str]
    timestamp: datetime
    content_hash: str
    id_was_given: bool
    response_id: str | None = None
    """The provider's response id (`gen_ai.response.id`): the span carrying it is the target."""


THUMB_WORDS: Final[dict[str, int]] = {"up": 1, "down": -1}


def numeric_value(kind: Kind, value: Any) -> float | None:
    """The number an event's value counts as in aggregates (thumbs ±1, bools 1/0)."""
    if kind in (Kind.THUMB, Kind.NUMBER):
        return float(value)
    if kind is Kind.BOOL:
        return 1.0 if value else 0.0
    return None


def label_value(kind: Kind, value: Any) -> str | None:
    """The text an event's value is filtered and grouped by (enum values, text, thumb words)."""
    if kind in (Kind.ENUM, Kind.TEXT):
        return str(value)
    if kind is Kind.THUMB:
        return "up" if value > 0 else "down"
    if kind is Kind.BOOL:
        return "true" if value else "false"
    return None
