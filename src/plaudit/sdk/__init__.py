"""The Plaudit Python SDK: trace AI capabilities, send end-user feedback, mint feedback tokens.

    import plaudit.sdk as plaudit

    plaudit.init(url="http://127.0.0.1:8000", token="sk_…")
    with plaudit.span("respond", capability="support-agent", step="respond") as span:
        answer = ...
    plaudit.send(span.links(), plaudit.Feedback.thumb_up(name="response-quality"))

`plaudit.evaluate(...)` scores a dataset with a task and evaluators (`plaudit.evals`).

It imports only the standard library, `plaudit.core`, httpx and OpenTelemetry — none of the
server's dependencies — and it never raises into the app: errors go to `on_error`.
"""

from plaudit.sdk import evals
from plaudit.sdk._safety import (
    DeliveryFailed,
    FeedbackDropped,
    FeedbackRejected,
    PlauditSdkError,
)
from plaudit.sdk.client import AsyncClient, Client, SpanLinks, send
from plaudit.sdk.evals import Score
from plaudit.sdk.evaluation import (
    EvaluationInterrupted,
    EvaluationResult,
    Evaluations,
    evaluate,
    evaluations,
)
from plaudit.sdk.feedback import Feedback
from plaudit.sdk.loop import ApiError, Datasets, Queues, datasets, queues
from plaudit.sdk.tokens import feedback_token
from plaudit.sdk.tracing import (
    Span,
    enrich_span,
    enrich_trace,
    flush,
    init,
    shutdown,
    span,
)

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "Datasets",
    "DeliveryFailed",
    "EvaluationInterrupted",
    "EvaluationResult",
    "Evaluations",
    "Feedback",
    "FeedbackDropped",
    "FeedbackRejected",
    "PlauditSdkError",
    "Queues",
    "Score",
    "Span",
    "SpanLinks",
    "datasets",
    "enrich_span",
    "enrich_trace",
    "evals",
    "evaluate",
    "evaluations",
    "feedback_token",
    "flush",
    "init",
    "queues",
    "send",
    "shutdown",
    "span",
]
