"""`gen_ai.evaluation.result` span events as raw feedback dicts.

An OpenTelemetry GenAI evaluation event on a kept span becomes one feedback dict with
`source: "evaluator"`; the feedback validator decides whether it is acceptable. The id is
derived from the span, the event time and the evaluation name, so a span exported twice
yields the same feedback id and is stored once.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from plaudit.core.spans import SpanRecord
from plaudit.core.times import rfc3339

EVALUATION_EVENT = "gen_ai.evaluation.result"
EVALUATION_NAME = "gen_ai.evaluation.name"
EVALUATION_SCORE_VALUE = "gen_ai.evaluation.score.value"
EVALUATION_SCORE_LABEL = "gen_ai.evaluation.score.label"
EVALUATION_EXPLANATION = "gen_ai.evaluation.explanation"
_EVALUATION_PREFIX = "gen_ai.evaluation."


def evaluations(record: SpanRecord) -> list[dict[str, Any]]:
    """The raw feedback dicts of `record`'s evaluation events that name an evaluation."""
    found = []
    for event in record.events:
        if event["name"] == EVALUATION_EVENT:
            feedback = _evaluation_feedback(record, event)
            if feedback is not None:
                found.append(feedback)
    return found


def _evaluation_feedback(record: SpanRecord, event: dict[str, Any]) -> dict[str, Any] | None:
    """The raw feedback dict an evaluation event stands for, or None without a name.

    The id is derived from the span, the event time and the name, so a span exported twice
    yields the same feedback id and is stored once.
    """
    attributes = dict(event["attributes"])
    name = attributes.pop(EVALUATION_NAME, None)
    if name.__class__ is not str or not name:
        return None
    time_ns = event["time_unix_nano"] or record.end_time_ns
    comment = attributes.pop(EVALUATION_EXPLANATION, None)
    value = attributes.pop(EVALUATION_SCORE_VALUE, None)
    if value is None:
        value = attributes.pop(EVALUATION_SCORE_LABEL, None)
    feedback = {
        "id": _evaluation_id(record.trace_id, record.span_id, time_ns, name),
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "name": name,
        "value": value,
        "comment": comment,
        "source": "evaluator",
        "timestamp": _rfc3339(time_ns),
        "metadata": {_metadata_key(key): item for key, item in attributes.items()} or None,
    }
    return {key: item for key, item in feedback.items() if item is not None}


def _evaluation_id(trace_id: str, span_id: str, time_ns: int, name: str) -> str:
    digest = hashlib.sha256(f"{trace_id}:{span_id}:{time_ns}:{name}".encode()).hexdigest()
    return "otel-" + digest[:32]


def _metadata_key(attribute: str) -> str:
    """One path segment per attribute (`score.label` → `score_label`), so queries on
    `metadata.<key>` are unambiguous."""
    attribute = attribute.removeprefix(_EVALUATION_PREFIX)
    return attribute.replace(".", "_")


def _rfc3339(time_ns: int) -> str | None:
    """RFC 3339 in UTC with microseconds; None for an unset (0) or impossible time."""
    if time_ns <= 0:
        return None
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    try:
        moment = datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=nanos // 1000)
    except (OverflowError, OSError, ValueError):
        return None
    return rfc3339(moment, "microseconds")
