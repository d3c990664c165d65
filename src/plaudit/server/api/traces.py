"""`/v1/traces`: the OTLP/HTTP receiver, the trace tree, and enrichment of traces and spans."""

from datetime import UTC, datetime
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Request, Response, get, patch, post
from litestar.params import FromPath

from plaudit.core import limits
from plaudit.core.access import Principal, Scope
from plaudit.core.feedback import FeedbackEvent, ShortText, Source, UserText
from plaudit.core.ids import EVENT_ID_PATTERN, is_span_id, is_trace_id
from plaudit.core.validation import Issue, validate_feedback
from plaudit.errors import NotFound, PlauditError, Unavailable, ValidationFailed
from plaudit.ingest import otlp
from plaudit.ingest.span_feedback import attribute_feedback, feedback_write, has_feedback
from plaudit.server.auth import authenticate, require
from plaudit.server.bodies import json_body
from plaudit.server.metrics import SPANS
from plaudit.server.state import JSON, ServerState, state_of
from plaudit.store.enrichment import Enrich
from plaudit.store.feedback import StoreFeedback
from plaudit.store.spans import StoreSpans, get_trace
from plaudit.store.writer import WriterBusy


def _otlp_error(error: PlauditError | otlp.OtlpError, media: str) -> Response[bytes]:
    status = error.status
    message = error.detail if isinstance(error, PlauditError) else error.message
    retry = error.retry_after
    headers = {"retry-after": str(retry)} if retry else None
    return Response(
        otlp.encode_status(status, message, media),
        status_code=status,
        media_type=media,
        headers=headers,
    )


@post(
    "/v1/traces",
    summary="OTLP/HTTP trace receiver (protobuf or JSON, gzip)",
    tags=["traces"],
    status_code=200,
    request_max_body_size=limits.MAX_OTLP_BODY_BYTES,
)
async def post_traces(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Spans are queryable when this answers.

    Errors are a `google.rpc.Status` in the request's encoding, as OTLP requires.
    """
    state = state_of(request)
    content_type = request.headers.get("content-type")
    try:
        media = otlp.media_type(content_type)
    except otlp.OtlpError as error:
        return _otlp_error(error, otlp.PROTOBUF)
    try:
        principal = await authenticate(request, state)
        require(principal, Scope.TRACES_WRITE)
        body = await request.body()
        decoded = await anyio.to_thread.run_sync(
            otlp.decode_export,
            body,
            content_type,
            request.headers.get("content-encoding"),
            limits.MAX_OTLP_BODY_BYTES,
        )
        await _store_export(state, principal, decoded)
    except (PlauditError, otlp.OtlpError) as error:
        return _otlp_error(error, media)
    SPANS.labels("stored").inc(len(decoded.spans))
    SPANS.labels("rejected").inc(decoded.rejected_spans)
    return Response(otlp.encode_success(decoded, media), media_type=media)


async def _store_export(
    state: ServerState, principal: Principal, decoded: otlp.DecodedExport
) -> None:
    now = datetime.now(UTC)
    events = _evaluation_events(decoded.evaluations, now)
    events += _feedback_events(decoded.attribute_feedback, now)
    try:
        if decoded.spans:
            await state.writer.write(StoreSpans(principal.project, decoded.spans, now))
        if events:
            await state.writer.write(
                StoreFeedback(principal.project, events, now, principal.token_id)
            )
    except WriterBusy as busy:
        raise Unavailable(f"the server is catching up ({busy})", retry_after=1) from None


def _evaluation_events(raw_events: list[dict[str, Any]], now: datetime) -> list[FeedbackEvent]:
    """gen_ai.evaluation.result span events that make valid feedback (others are skipped)."""
    events = []
    for raw in raw_events:
        result = validate_feedback(
            raw, pointer="", now=now, configs={}, forced_source=Source.EVALUATOR
        )
        if isinstance(result, FeedbackEvent):
            events.append(result)
    return events


def _feedback_events(raw_events: list[dict[str, Any]], now: datetime) -> list[FeedbackEvent]:
    """Feedback set as span attributes that makes valid events (others are skipped)."""
    events = []
    for raw in raw_events:
        result = validate_feedback(raw, pointer="", now=now, configs={})
        if isinstance(result, FeedbackEvent):
            events.append(result)
    return events


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
    op = Enrich(
        principal.project,
        target,
        target_id,
        patch_in.attributes,
        patch_in.tags,
        patch_in.feedback,
        event,
        principal.token_id,
    )
    from_attributes = _attribute_events(target, target_id, patch_in)
    try:
        result = await state.writer.write(op)
        if from_attributes:
            statuses = await state.writer.write(
                feedback_write(principal.project, from_attributes, now(), principal.token_id)
            )
            result["attribute_feedback"] = [
                {"id": e.id, "status": s} for e, s in zip(from_attributes, statuses, strict=True)
            ]
    except WriterBusy:
        raise Unavailable("the server is catching up; retry shortly", retry_after=1) from None
    return Response(msgspec.json.encode(result), media_type=JSON)


def _attribute_events(target: str, target_id: str, patch_in: EnrichmentIn) -> list[FeedbackEvent]:
    """Feedback set as attributes in a PATCH (`user_feedback`…), as on an exported span."""
    attributes = patch_in.attributes
    if not attributes or not has_feedback(attributes):
        return []
    raw = attribute_feedback(
        attributes, target=target, target_id=target_id, user_id=patch_in.user_id
    )
    return _feedback_events(raw, now())


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
