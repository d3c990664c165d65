"""Evaluation runs: a run scores one dataset version, and every score is also
feedback with `source=evaluator` on the span it judged, so runs are queryable like users'
feedback.

A result's span is the one it names (`trace_id`/`span_id`: the task's span), else the span its
example came from (the example's `source`), so an evaluator scoring stored outputs lands next to
the end users' feedback on the same answer. A result with neither keeps its scores in the run
only. Each score's feedback id is derived from the run, the example and the score name, so
posting an example again revises the same events instead of adding more.
"""

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy import Connection

from plaudit.core import limits
from plaudit.core.configs import FeedbackConfig
from plaudit.core.feedback import THUMB_WORDS, FeedbackEvent, Kind
from plaudit.core.ids import is_span_id, is_trace_id
from plaudit.core.validation import Issue, escape_pointer, validate_feedback
from plaudit.core.verdicts import as_number, score_passes
from plaudit.errors import NotFound, ValidationFailed
from plaudit.store.evaluations import (
    Known,
    ResultRow,
    ScoreRow,
    run_row,
    store_results,
)
from plaudit.store.feedback import StoreFeedback
from plaudit.store.writer import WriteOp

RunId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
ExampleId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
MAX_RESULTS = 1000
_NOWHERE = "f" * 32  # a trace id to check a score that is stored on no span


class RunIn(msgspec.Struct, forbid_unknown_fields=True):
    """The body of `POST /v1/evaluations`; `id` lets a client retry a creation safely."""

    dataset: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,128}$")]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=256)] | None = None
    dataset_version: Annotated[int, msgspec.Meta(ge=0)] | None = None
    only: Literal["guardrails", "filled"] | None = None
    id: RunId | None = None


class ResultIn(msgspec.Struct, forbid_unknown_fields=True):
    """One example's result: a score is a number, a bool, a thumb (`"up"`/`"down"`), or
    `{"value","comment"?}` of one of them."""

    example_id: ExampleId
    output: Any = None
    trace_id: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{32}$")] | None = None
    span_id: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{16}$")] | None = None
    scores: Annotated[dict[str, Any], msgspec.Meta(max_length=limits.MAX_SCORES)] = {}
    error: Annotated[str, msgspec.Meta(max_length=limits.MAX_TEXT_BYTES)] | None = None


class ResultsIn(msgspec.Struct, forbid_unknown_fields=True):
    """The body of `POST /v1/evaluations/{id}/results`."""

    results: Annotated[list[ResultIn], msgspec.Meta(max_length=MAX_RESULTS)]


def feedback_id(run_id: str, example_id: str, name: str) -> str:
    """The id of the feedback event that holds one score of one example in one run."""
    key = f"{run_id}\0{example_id}\0{name}".encode()
    return "v-" + hashlib.blake2b(key, digest_size=16).hexdigest()


def _score(raw: Any, pointer: str, issues: list[Issue]) -> tuple[Any, str | None] | None:
    """(value, comment) of one score as sent, or None after noting why it is unusable."""
    value, comment = raw, None
    if isinstance(raw, dict):
        unknown = set(raw) - {"value", "comment"}
        if unknown or "value" not in raw:
            issues.append(Issue(pointer, 'a score object is {"value", "comment"?}'))
            return None
        value, comment = raw["value"], raw.get("comment")
        if comment is not None and not isinstance(comment, str):
            issues.append(Issue(f"{pointer}/comment", "must be a string"))
            return None
    if isinstance(value, bool) or (isinstance(value, str) and value in THUMB_WORDS):
        return value, comment
    if isinstance(value, int | float) and _finite(value):
        return value, comment
    issues.append(Issue(pointer, 'a score is a finite number, a bool, or "up" / "down"'))
    return None


def _finite(number: float) -> bool:
    """Whether a JSON number is finite as a float (integers too large for one are not)."""
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


@dataclass
class Checked:
    """A posted batch as rows to store and feedback events to write."""

    rows: list[ResultRow]
    events: list[FeedbackEvent]


def checked_results(
    run: Any,
    body: ResultsIn,
    covered: Mapping[str, Known],
    configs: Mapping[str, FeedbackConfig],
    now: datetime,
) -> Checked:
    """The rows and feedback events of a posted batch, or a 422 naming every problem.

    `covered` holds the run's rows among those posted, with the span each example came from
    (used when a result names no span)."""
    issues: list[Issue] = []
    checked = Checked([], [])
    for index, result in enumerate(body.results):
        pointer = f"/results/{index}"
        known = covered.get(result.example_id)
        if known is None:
            problem = f"run {run['id']!r} does not cover example {result.example_id!r}"
            issues.append(Issue(f"{pointer}/example_id", problem))
            continue
        trace_id, span_id = result.trace_id, result.span_id
        if trace_id is not None and not is_trace_id(trace_id):
            issues.append(Issue(f"{pointer}/trace_id", "must not be all zeros"))
        if span_id is not None and not is_span_id(span_id):
            issues.append(Issue(f"{pointer}/span_id", "must not be all zeros"))
        if trace_id is None and span_id is None:
            trace_id, span_id = known.trace_id, known.span_id
        row = ResultRow(result.example_id, result.output, trace_id, span_id, result.error)
        for name, raw in result.scores.items():
            at = f"{pointer}/scores/{escape_pointer(name)}"
            scored = _checked_score(run["id"], row, name, raw, at, configs, now, issues)
            if scored is not None:
                row.scores.append(scored[0])
                if scored[1] is not None:
                    checked.events.append(scored[1])
        checked.rows.append(row)
    if issues:
        raise ValidationFailed("some results are invalid", issues=issues)
    return checked


def _checked_score(
    run_id: str,
    row: ResultRow,
    name: str,
    raw: Any,
    at: str,
    configs: Mapping[str, FeedbackConfig],
    now: datetime,
    issues: list[Issue],
) -> tuple[ScoreRow, FeedbackEvent | None] | None:
    """One score with its verdict, and its feedback event when the row has a span; None after
    noting in `issues` why it is unusable."""
    if not name or len(name) > limits.MAX_NAME_CHARS:
        issues.append(Issue(at, f"a score name is 1 to {limits.MAX_NAME_CHARS} characters"))
        return None
    scored = _score(raw, at, issues)
    if scored is None:
        return None
    value, comment = scored
    config = configs.get(name)
    # A thumb ("up"/"down") is kept as +1/-1 and passes above 0, configured or not.
    kind = Kind.THUMB if isinstance(value, str) else None
    number_value = THUMB_WORDS[value] if isinstance(value, str) else value
    verdict, number = score_passes(number_value, config, kind), as_number(number_value)
    if verdict is None or number is None:  # never: _score admits numbers, bools and thumbs
        issues.append(Issue(at, "a score is a finite number or a bool"))
        return None
    raw_event = _raw_event(run_id, row.example_id, name, value, comment, config)
    placed = row.trace_id is not None or row.span_id is not None
    # A score with no span is checked as if on one (its name's config holds either way) and
    # kept in the run only.
    target = (row.trace_id, row.span_id) if placed else (_NOWHERE, None)
    raw_event.update({k: v for k, v in zip(("trace_id", "span_id"), target, strict=True) if v})
    # The body was searched for NUL characters when it was decoded.
    event = validate_feedback(raw_event, pointer=at, now=now, configs=configs, check_nul=False)
    if isinstance(event, list):
        issues.extend(Issue(at, issue.message) for issue in event)
        return None
    return ScoreRow(name, number_value, number, verdict, comment), event if placed else None


def _raw_event(
    run_id: str,
    example_id: str,
    name: str,
    value: Any,
    comment: str | None,
    config: FeedbackConfig | None,
) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": feedback_id(run_id, example_id, name),
        "name": name,
        "value": value,
        "source": "evaluator",
        "metadata": {"evaluation": run_id, "example_id": example_id},
    }
    if comment is not None:
        raw["comment"] = comment
    if config is not None:
        raw["kind"] = config.kind.value
    return raw


@dataclass
class StoreResults(WriteOp[dict[str, Any]]):
    """Store a batch of results and their scores as feedback (one transaction)."""

    project: str
    run_id: str
    rows: Sequence[ResultRow]
    record: StoreFeedback | None
    """The scores as feedback, made (and screened for PII) before the writer takes this."""
    now: datetime

    def apply(self, connection: Connection) -> dict[str, Any]:
        if run_row(connection, self.project, self.run_id) is None:
            raise NotFound(f"no evaluation {self.run_id!r} in project {self.project!r}")
        if self.record is not None and self.record.events:
            self.record.apply(connection)
        statuses = store_results(connection, self.project, self.run_id, self.rows, self.now)
        return {"results": [{"example_id": i, "status": s} for i, s in statuses.items()]}
