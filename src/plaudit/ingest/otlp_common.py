"""What the OTLP protobuf and JSON walkers share: the decode outcome, errors, span checks.

`plaudit.ingest.otlp` re-exports `OtlpError` and `DecodedExport`, and is where callers
import them from; the rest is for the walkers in `otlp` and `otlp_json` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plaudit.core.spans import SpanRecord
from plaudit.ingest.evaluations import evaluations
from plaudit.ingest.span_feedback import attribute_feedback, has_feedback

UNKNOWN_KIND = "unspecified"
UNSET = "unset"

_MAX_REASONS = 3  # partial_success names the first few problems; one is usually enough to fix
TIME_LIMIT = 1 << 63  # times are stored as signed 64-bit integers


class OtlpError(Exception):
    """A request the trace endpoint must refuse as a whole.

    Attributes:
        status: the HTTP status (400 undecodable, 413 too large, 415 unsupported type or
            encoding).
        message: what is wrong and how to fix it; goes into the `google.rpc.Status` body.
        retry_after: seconds for a `Retry-After` header, only for retryable statuses.
    """

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class DecodedExport:
    """The outcome of decoding one export request.

    Attributes:
        spans: the spans that passed the checks, in request order.
        rejected_spans: how many spans were dropped.
        error_message: "" when none were dropped, else the first few reasons.
        evaluations: raw feedback dicts made from `gen_ai.evaluation.result` events of kept
            spans, for the feedback validator.
        attribute_feedback: raw feedback dicts made from `user_feedback`-style attributes of
            kept spans (see `plaudit.ingest.span_feedback`), for the feedback validator.
    """

    spans: list[SpanRecord]
    rejected_spans: int = 0
    error_message: str = ""
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    attribute_feedback: list[dict[str, Any]] = field(default_factory=list)


class SpanRejectedError(Exception):
    """One span cannot be kept; the message says why."""


class Collector:
    """Accumulates kept spans, their evaluation feedback, and rejection reasons."""

    __slots__ = ("attribute_feedback", "evaluations", "reasons", "rejected", "spans")

    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []
        self.evaluations: list[dict[str, Any]] = []
        self.attribute_feedback: list[dict[str, Any]] = []
        self.rejected = 0
        self.reasons: list[str] = []

    def keep(self, record: SpanRecord) -> None:
        self.spans.append(record)
        if record.events:
            self.evaluations.extend(evaluations(record))
        if has_feedback(record.attributes):
            self.attribute_feedback.extend(
                attribute_feedback(
                    record.attributes,
                    target="span",
                    target_id=record.span_id,
                    trace_id=record.trace_id,
                    user_id=record.user_id,
                )
            )

    def reject(self, where: str, why: str) -> None:
        self.rejected += 1
        if len(self.reasons) < _MAX_REASONS:
            self.reasons.append(f"{where}: {why}")

    def result(self) -> DecodedExport:
        message = ""
        if self.rejected:
            more = self.rejected - len(self.reasons)
            message = f"{self.rejected} span(s) rejected: " + "; ".join(self.reasons)
            if more:
                message += f"; and {more} more"
        return DecodedExport(
            self.spans, self.rejected, message, self.evaluations, self.attribute_feedback
        )


def span_times(start: int, end: int) -> tuple[int, int]:
    """The start and end times, if both fit a signed 64-bit integer; rejects the span otherwise."""
    if 0 <= start < TIME_LIMIT and 0 <= end < TIME_LIMIT:
        return start, end
    raise SpanRejectedError(f"start and end times must be 0 to 2**63-1 ns, got {start}, {end}")
