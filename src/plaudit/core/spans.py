"""The domain record of one received span.

A `SpanRecord` is what every wire format (OTLP protobuf, OTLP JSON, our SDK) turns a span into
before it is stored. Attribute values are already plain JSON values, so the store and the API
never see protobuf types.

The four link fields (`capability`, `step`, `conversation_id`, `user_id`) are derived from the
attributes when the record is built: the span's own attribute wins, the resource's is the
fallback, so a service can declare its capability once on its resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

SPAN_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
"""Span kinds, indexed by their OTLP enum number."""

STATUS_CODES = ("unset", "ok", "error")
"""Status codes, indexed by their OTLP enum number."""

CAPABILITY_ATTRIBUTE = "plaudit.capability"
STEP_ATTRIBUTE = "plaudit.step"
CONVERSATION_ATTRIBUTE = "gen_ai.conversation.id"
USER_ATTRIBUTES = ("enduser.id", "user.id")


LinkFields = tuple[str | None, str | None, str | None, str | None]
"""`(capability, step, conversation_id, user_id)`: what feedback is linked and grouped by.

A plain tuple rather than a NamedTuple: it is made once per ingested span, and a NamedTuple
costs several times more to create.
"""

NO_LINKS: LinkFields = (None, None, None, None)


def _as_text(value: Any) -> str | None:
    """An attribute value usable as a link field, or None.

    Integers are accepted because user and conversation ids are often numeric in the app;
    bools, floats and containers are not ids, and an empty string says nothing.
    """
    if value.__class__ is str:
        return value or None
    if value.__class__ is int:
        return str(value)
    return None


def link_fields(attributes: Mapping[str, Any], fallback: LinkFields = NO_LINKS) -> LinkFields:
    """Read the link fields from `attributes`, taking each missing one from `fallback`.

    Call it once with the resource attributes, then per span with the result as `fallback`:
    the ingest loop does this so each resource is read only once.
    """
    get = attributes.get
    capability = get(CAPABILITY_ATTRIBUTE)
    step = get(STEP_ATTRIBUTE)
    conversation = get(CONVERSATION_ATTRIBUTE)
    user = get(USER_ATTRIBUTES[0])
    if user is None:
        user = get(USER_ATTRIBUTES[1])
    # most spans carry none of them: skip the conversions
    if capability is None and step is None and conversation is None and user is None:
        return fallback
    return (
        _as_text(capability) or fallback[0],
        _as_text(step) or fallback[1],
        _as_text(conversation) or fallback[2],
        _as_text(user) or fallback[3],
    )


# gc=False: a record never refers back to itself, so the cycle collector need not track the
# tens of thousands made per second; measured, OTLP decoding got 10-30 % faster.
class SpanRecord(msgspec.Struct, frozen=True, gc=False):
    """One span, as Plaudit stores it.

    Ids are lowercase hex (32 characters for the trace, 16 for spans). Times are Unix
    nanoseconds. `kind` is one of `SPAN_KINDS`, `status_code` one of `STATUS_CODES`.
    `events` are `{"name", "time_unix_nano", "attributes"}` and `links` are
    `{"trace_id", "span_id", "attributes"}`. Build records with `SpanRecord.build` so the
    link fields agree with the attributes; the OTLP decoder calls the constructor
    positionally instead, because keyword construction costs ten times more (about 1.3 µs
    against 0.14 µs), so the field order is part of the contract.

    The `resource` and `scope` dicts may be shared by every span of one export; treat all
    containers of a record as read-only.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_time_ns: int
    end_time_ns: int
    status_code: str
    status_message: str
    attributes: dict[str, Any]
    events: list[dict[str, Any]]
    links: list[dict[str, Any]]
    resource: dict[str, Any]
    scope: dict[str, Any]
    capability: str | None = None
    step: str | None = None
    conversation_id: str | None = None
    user_id: str | None = None

    @classmethod
    def build(
        cls,
        *,
        trace_id: str,
        span_id: str,
        name: str,
        start_time_ns: int,
        end_time_ns: int,
        parent_span_id: str | None = None,
        kind: str = "internal",
        status_code: str = "unset",
        status_message: str = "",
        attributes: dict[str, Any] | None = None,
        events: list[dict[str, Any]] | None = None,
        links: list[dict[str, Any]] | None = None,
        resource: dict[str, Any] | None = None,
        scope: dict[str, Any] | None = None,
    ) -> SpanRecord:
        """Make a record, deriving the link fields from `attributes`, then `resource`.

        Ids are taken as given: checking them is the caller's job, as the OTLP decoder does.
        """
        attributes = {} if attributes is None else attributes
        resource = {} if resource is None else resource
        linked = link_fields(attributes, link_fields(resource))
        return cls(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=parent_span_id,
            name=name,
            kind=kind,
            start_time_ns=start_time_ns,
            end_time_ns=end_time_ns,
            status_code=status_code,
            status_message=status_message,
            attributes=attributes,
            events=[] if events is None else events,
            links=[] if links is None else links,
            resource=resource,
            scope={"name": "", "version": ""} if scope is None else scope,
            capability=linked[0],
            step=linked[1],
            conversation_id=linked[2],
            user_id=linked[3],
        )
