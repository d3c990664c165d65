"""What the OTLP receivers share, whatever the transport: decode, store, count, and refuse.

`POST /v1/traces` and `/v1/logs` (OTLP/HTTP, `server/api/traces.py`) and the gRPC services
(`server/otlp_grpc.py`) hand the request body to `take_traces` / `take_logs` and answer from
what they return or raise. So both transports decode alike (in a worker thread), apply the same
limits, store through the writer and answer only once the writer has committed, and count the
same metrics; only the shape of the answer differs.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from sqlalchemy.exc import OperationalError

from plaudit.core import limits
from plaudit.core.access import Principal
from plaudit.core.feedback import FeedbackEvent, Source
from plaudit.core.validation import validate_feedback
from plaudit.errors import PlauditError
from plaudit.ingest import otlp
from plaudit.ingest.otlp_logs import DecodedLogs, decode_logs
from plaudit.server.metrics import LOG_RECORDS, METRIC_EXPORTS, SPANS
from plaudit.server.problems import database_unavailable
from plaudit.server.state import ServerState
from plaudit.store.span_messages import StoreSpanMessages
from plaudit.store.spans import StoreSpans


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an export was refused as a whole, in transport-neutral terms.

    Attributes:
        status: the HTTP status (OTLP/HTTP answers it; OTLP/gRPC maps it to a status code).
        message: what is wrong and what to do.
        retry_after: seconds to wait before retrying, for retryable refusals only.
    """

    status: int
    message: str
    retry_after: int | None = None


def refusal(error: Exception) -> Refusal | None:
    """The refusal an error raised by `take_traces`/`take_logs` (or auth) stands for; None for
    an error that is a bug, which the caller lets through."""
    if isinstance(error, OperationalError):
        # A Status the exporter can read (and retry on), not the app's problem+json.
        error = database_unavailable(error)
    if isinstance(error, PlauditError):
        return Refusal(error.status, error.detail, error.retry_after)
    if isinstance(error, otlp.OtlpError):
        return Refusal(error.status, error.message, error.retry_after)
    return None


async def take_traces(
    state: ServerState,
    principal: Principal,
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
) -> otlp.DecodedExport:
    """Decode an `ExportTraceServiceRequest` and store its spans (and the feedback they carry);
    returns once the writer has committed them.

    Raises:
        OtlpError: the body cannot be taken (400, 413, 415).
        PlauditError: the writer is busy or failed (503).
        OperationalError: the database failed.
    """
    decoded = await anyio.to_thread.run_sync(
        otlp.decode_export, body, content_type, content_encoding, limits.MAX_OTLP_BODY_BYTES
    )
    now = datetime.now(UTC)
    events = valid_events(decoded.evaluations, now, Source.EVALUATOR)
    events += valid_events(decoded.attribute_feedback, now, None)
    if decoded.spans:
        await state.write(StoreSpans(principal.project, decoded.spans, now))
    if events:
        await state.store_feedback(principal.project, events, now, principal)
    SPANS.labels("stored").inc(len(decoded.spans))
    SPANS.labels("rejected").inc(decoded.rejected_spans)
    return decoded


async def take_logs(
    state: ServerState,
    principal: Principal,
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
) -> DecodedLogs:
    """Decode an `ExportLogsServiceRequest` and store the GenAI messages in it; returns once the
    writer has committed them. Raises as `take_traces` does."""
    decoded = await anyio.to_thread.run_sync(
        decode_logs, body, content_type, content_encoding, limits.MAX_OTLP_BODY_BYTES
    )
    if decoded.messages:
        await state.write(StoreSpanMessages(principal.project, decoded.messages))
    records = len({(m.span_id, m.record) for m in decoded.messages})
    LOG_RECORDS.labels("stored").inc(records)
    LOG_RECORDS.labels("ignored").inc(decoded.ignored)
    LOG_RECORDS.labels("rejected").inc(decoded.rejected)
    return decoded


def take_metrics(body: bytes, content_encoding: str | None) -> None:
    """Accept a metrics export and drop it: Plaudit keeps no metrics, but an SDK set up for
    every signal should not log an error per export (docs/instrumentations.md). The body is
    still held to the size limit."""
    otlp.inflate(body, content_encoding, limits.MAX_OTLP_BODY_BYTES)
    METRIC_EXPORTS.inc()


def valid_events(
    raw_events: list[dict[str, Any]], now: datetime, source: Source | None
) -> list[FeedbackEvent]:
    """The raw feedback dicts (from evaluation events, or feedback set as span attributes) that
    make valid events; the others are skipped, as they came inside spans that were kept."""
    events = []
    for raw in raw_events:
        result = validate_feedback(raw, pointer="", now=now, configs={}, forced_source=source)
        if isinstance(result, FeedbackEvent):
            events.append(result)
    return events
