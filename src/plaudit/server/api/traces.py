"""`/v1/traces` and `/v1/logs`: the OTLP/HTTP receivers, the trace tree, and enrichment."""

from datetime import UTC, datetime
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Request, Response, get, patch, post
from litestar.params import FromPath
from sqlalchemy.exc import OperationalError

from plaudit.core import limits
from plaudit.core.access import Principal, Scope
from plaudit.core.feedback import FeedbackEvent, ShortText, Source, UserText
from plaudit.core.ids import EVENT_ID_PATTERN, is_span_id, is_trace_id
from plaudit.core.validation import Issue, validate_feedback
from plaudit.errors import NotFound, PlauditError, ValidationFailed
from plaudit.ingest import otlp
from plaudit.ingest.otlp_logs import decode_logs, encode_logs_success
from plaudit.server.auth import authenticate, require
from plaudit.server.bodies import json_body
from plaudit.server.metrics import LOG_RECORDS, SPANS
from plaudit.server.problems import database_unavailable
from plaudit.server.state import JSON, ServerState, state_of
from plaudit.store.enrichment import Enrich
from plaudit.store.span_messages import StoreSpanMessages
from plaudit.store.spans import StoreSpans, get_trace


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

    Errors are a `google.rpc.Status` in the request's encoding, as OTLP requires; that includes
    a database that fails (503 with `Retry-After`).
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
    except OperationalError as error:
        # Caught here, not by the app's handler: that one answers problem+json, which OTLP
        # exporters cannot read; they retry on a 503 Status in their own encoding.
        return _otlp_error(database_unavailable(error), media)
    SPANS.labels("stored").inc(len(decoded.spans))
    SPANS.labels("rejected").inc(decoded.rejected_spans)
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
    state = state_of(request)
    try:
        media = otlp.media_type(request.headers.get("content-type"))
    except otlp.OtlpError as error:
        return _otlp_error(error, otlp.PROTOBUF)
    try:
        principal = await authenticate(request, state)
        require(principal, Scope.TRACES_WRITE)
        decoded = await anyio.to_thread.run_sync(
            decode_logs,
            await request.body(),
            request.headers.get("content-type"),
            request.headers.get("content-encoding"),
            limits.MAX_OTLP_BODY_BYTES,
        )
        if decoded.messages:
            await state.write(StoreSpanMessages(principal.project, decoded.messages))
    except (PlauditError, otlp.OtlpError) as error:
        return _otlp_error(error, media)
    except OperationalError as error:  # as for /v1/traces: a Status exporters can read
        return _otlp_error(database_unavailable(error), media)
    records = len({(m.span_id, m.record) for m in decoded.messages})
    LOG_RECORDS.labels("stored").inc(records)
    LOG_RECORDS.labels("ignored").inc(decoded.ignored)
    LOG_RECORDS.labels("rejected").inc(decoded.rejected)
    return Response(encode_logs_success(decoded, media), media_type=media)


async def _store_export(
    state: ServerState, principal: Principal, decoded: otlp.DecodedExport
) -> None:
    now = datetime.now(UTC)
    events = _evaluation_events(decoded.evaluations, now)
    if decoded.spans:
        await state.write(StoreSpans(principal.project, decoded.spans, now))
    if events:
        await state.store_feedback(principal.project, events, now, principal)


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
    record = await state.feedback_op(principal.project, [event], now, principal) if event else None
    op = Enrich(
        principal.project,
        target,
        target_id,
        patch_in.attributes,
        patch_in.tags,
        patch_in.feedback,
        record,
    )
    result = await state.write(op)
    return Response(msgspec.json.encode(result), media_type=JSON)


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
