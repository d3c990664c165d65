"""`/v1/traces`, `/v1/logs` and `/v1/metrics`: the OTLP/HTTP receivers, the trace tree, and
enrichment."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request, Response, get, patch, post
from litestar.params import FromPath

from plaudit.core import limits
from plaudit.core.access import Principal, Scope
from plaudit.core.feedback import FeedbackEvent, ShortText, Source, UserText
from plaudit.core.ids import EVENT_ID_PATTERN, is_span_id, is_trace_id
from plaudit.core.validation import Issue, validate_feedback
from plaudit.errors import NotFound, ValidationFailed
from plaudit.ingest import otlp
from plaudit.ingest.otlp_logs import encode_logs_success
from plaudit.ingest.span_feedback import attribute_feedback, has_feedback
from plaudit.server.auth import authenticate, require
from plaudit.server.bodies import json_body
from plaudit.server.otlp_intake import (
    Refusal,
    refusal,
    take_logs,
    take_metrics,
    take_traces,
    valid_events,
)
from plaudit.server.state import JSON, ServerState, state_of
from plaudit.store.enrichment import Enrich
from plaudit.store.spans import get_trace

T = TypeVar("T")


def _otlp_error(error: Refusal, media: str) -> Response[bytes]:
    retry = error.retry_after
    headers = {"retry-after": str(retry)} if retry else None
    return Response(
        otlp.encode_status(error.status, error.message, media),
        status_code=error.status,
        media_type=media,
        headers=headers,
    )


async def _receive(
    request: Request[Any, Any, Any], take: Callable[..., Awaitable[T]]
) -> tuple[str, T] | Response[bytes]:
    """Authenticate, then `take` the body (`otlp_intake`): (media type, what it returned), or
    the answer refusing it, a `google.rpc.Status` in the request's encoding as OTLP requires
    — a failing database included (503 with `Retry-After`), which exporters retry."""
    state = state_of(request)
    content_type = request.headers.get("content-type")
    try:
        media = otlp.media_type(content_type)
    except otlp.OtlpError as error:
        return _otlp_error(Refusal(error.status, error.message), otlp.PROTOBUF)
    try:
        principal = await authenticate(request, state)
        require(principal, Scope.TRACES_WRITE)
        body = await request.body()
        encoding = request.headers.get("content-encoding")
        return media, await take(state, principal, body, content_type, encoding)
    except Exception as error:
        if (refused := refusal(error)) is None:
            raise
        return _otlp_error(refused, media)


@post(
    "/v1/traces",
    summary="OTLP/HTTP trace receiver (protobuf or JSON, gzip)",
    tags=["traces"],
    status_code=200,
    request_max_body_size=limits.MAX_OTLP_BODY_BYTES,
)
async def post_traces(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Spans are queryable when this answers.

    Errors are a `google.rpc.Status` in the request's encoding, as OTLP requires; that includes
    a database that fails (503 with `Retry-After`).
    """
    received = await _receive(request, take_traces)
    if isinstance(received, Response):
        return received
    media, decoded = received
    return Response(otlp.encode_success(decoded, media), media_type=media)


@post(
    "/v1/logs",
    summary="OTLP/HTTP logs receiver: GenAI events become their span's messages",
    tags=["traces"],
    status_code=200,
    request_max_body_size=limits.MAX_OTLP_BODY_BYTES,
)
async def post_logs(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Log records that are GenAI events (`gen_ai.user.message`, `gen_ai.choice`, …) are kept
    as the input and output messages of the span they name; other records are not stored.

    Errors are a `google.rpc.Status` in the request's encoding, as OTLP requires.
    """
    received = await _receive(request, take_logs)
    if isinstance(received, Response):
        return received
    media, decoded = received
    return Response(encode_logs_success(decoded, media), media_type=media)


async def _take_metrics(
    state: ServerState, principal: Principal, body: bytes, _type: str | None, encoding: str | None
) -> None:
    take_metrics(body, encoding)


@post(
    "/v1/metrics",
    summary="OTLP/HTTP metrics: accepted and dropped (Plaudit keeps no metrics)",
    tags=["traces"],
    status_code=200,
    request_max_body_size=limits.MAX_OTLP_BODY_BYTES,
)
async def post_metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """So an OpenTelemetry SDK that exports every signal to Plaudit logs no errors; the
    metrics are not stored (set `OTEL_METRICS_EXPORTER=none` to stop sending them)."""
    received = await _receive(request, _take_metrics)
    if isinstance(received, Response):
        return received
    media, _ = received
    return Response(b"{}" if media == otlp.JSON else b"", media_type=media)


@get(
    "/v1/traces/{trace_id:str}", summary="A trace as a span tree with its feedback", tags=["traces"]
)
async def get_trace_tree(
    request: Request[Any, Any, Any], trace_id: FromPath[str]
) -> Response[bytes]:
    """Root spans, each with `children`, attributes, events, status, timings and `feedback`."""
    state = state_of(request)
    principal = await authenticate(request, state)
    require(principal, Scope.READ)
    trace_id = trace_id.lower()
    if not is_trace_id(trace_id):
        raise ValidationFailed(
            "not a trace id", issues=[Issue("/trace_id", "must be 32 hex characters, not all zero")]
        )

    trace = await state.read(get_trace, principal.project, trace_id)
    if trace is None:
        raise NotFound(f"no spans of trace {trace_id} in project {principal.project!r}")
    return Response(msgspec.json.encode(trace), media_type=JSON)


class EnrichmentIn(msgspec.Struct, forbid_unknown_fields=True):
    """A PATCH body: feedback to deep-merge, attributes to merge, tags to add."""

    feedback: dict[str, Any] | None = None
    attributes: dict[str, Any] | None = None
    tags: Annotated[list[ShortText], msgspec.Meta(max_length=limits.MAX_TAGS)] | None = None
    id: Annotated[str, msgspec.Meta(pattern=EVENT_ID_PATTERN)] | None = None
    user_id: UserText | None = None


async def _enrich(request: Request[Any, Any, Any], target: str, target_id: str) -> Response[bytes]:
    state = state_of(request)
    principal = await authenticate(request, state)
    require(principal, Scope.FEEDBACK_WRITE)
    if principal.browser_safe:
        require(principal, Scope.ADMIN)
    patch_in = await json_body(request, EnrichmentIn)
    event = _enrichment_event(target, target_id, patch_in, principal)
    now = datetime.now(UTC)
    record = (
        await state.feedback_op(
            principal.project, [event], now, principal.token_id, browser=principal.browser_safe
        )
        if event
        else None
    )
    op = Enrich(
        principal.project,
        target,
        target_id,
        patch_in.attributes,
        patch_in.tags,
        patch_in.feedback,
        record,
    )
    from_attributes = _attribute_events(target, target_id, patch_in)
    result = await state.write(op)
    if from_attributes:
        statuses = await state.store_feedback(principal.project, from_attributes, now, principal)
        result["attribute_feedback"] = [
            {"id": e.id, "status": s} for e, s in zip(from_attributes, statuses, strict=True)
        ]
    return Response(msgspec.json.encode(result), media_type=JSON)


def _attribute_events(target: str, target_id: str, patch_in: EnrichmentIn) -> list[FeedbackEvent]:
    """Feedback set as attributes in a PATCH (`user_feedback`…), as on an exported span."""
    attributes = patch_in.attributes
    if not attributes or not has_feedback(attributes):
        return []
    raw = attribute_feedback(
        attributes, target=target, target_id=target_id, user_id=patch_in.user_id
    )
    return valid_events(raw, now(), None)


def now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


def _enrichment_event(
    target: str, target_id: str, patch_in: EnrichmentIn, principal: Principal
) -> FeedbackEvent | None:
    if not patch_in.feedback:
        return None
    raw: dict[str, Any] = {
        "name": "enrichment",
        "kind": "object",
        "value": patch_in.feedback,
        f"{target}_id": target_id,
        "tags": patch_in.tags,
        "id": patch_in.id,
        "user_id": patch_in.user_id,
        "source": Source.APP.value,
    }
    result = validate_feedback(
        {k: v for k, v in raw.items() if v is not None},
        pointer="",
        now=datetime.now(UTC),
        configs={},
    )
    if isinstance(result, list):
        issues = [
            Issue(i.pointer.replace("/value", "/feedback", 1), i.message, i.limit) for i in result
        ]
        raise ValidationFailed("invalid enrichment", issues=issues)
    return result


@patch(
    "/v1/traces/{trace_id:str}", summary="Enrich a trace (merge, never overwrite)", tags=["traces"]
)
async def patch_trace(request: Request[Any, Any, Any], trace_id: FromPath[str]) -> Response[bytes]:
    """Deep-merge feedback, merge attributes, add tags."""
    trace_id = trace_id.lower()
    if not is_trace_id(trace_id):
        raise ValidationFailed(
            "not a trace id", issues=[Issue("/trace_id", "must be 32 hex characters, not all zero")]
        )
    return await _enrich(request, "trace", trace_id)


@patch("/v1/spans/{span_id:str}", summary="Enrich a span (merge, never overwrite)", tags=["traces"])
async def patch_span(request: Request[Any, Any, Any], span_id: FromPath[str]) -> Response[bytes]:
    """Deep-merge feedback, merge attributes, add tags."""
    span_id = span_id.lower()
    if not is_span_id(span_id):
        raise ValidationFailed(
            "not a span id", issues=[Issue("/span_id", "must be 16 hex characters, not all zero")]
        )
    return await _enrich(request, "span", span_id)
