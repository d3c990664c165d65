"""Plaudit: self-hosted end-user feedback on AI responses, linked to OpenTelemetry traces.

The SDK's names (`plaudit.init`, `plaudit.span`, `plaudit.Feedback`, …) are loaded on first use,
so importing `plaudit` for the server or the CLI never pulls in the SDK's dependencies, and
importing the SDK never pulls in the server's.
"""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from plaudit.sdk import (
        ApiError,
        AsyncClient,
        Client,
        Datasets,
        DeliveryFailed,
        EvaluationInterrupted,
        EvaluationResult,
        Evaluations,
        Feedback,
        FeedbackDropped,
        FeedbackRejected,
        PlauditSdkError,
        Queues,
        Score,
        Span,
        SpanLinks,
        datasets,
        enrich_span,
        enrich_trace,
        evals,
        evaluate,
        evaluations,
        feedback_token,
        flush,
        init,
        queues,
        send,
        shutdown,
        span,
    )

# The same curated names as `plaudit.sdk.__all__`, plus the version (tests/test_public_api.py).
__all__ = [
    "ApiError", "AsyncClient", "Client", "Datasets", "DeliveryFailed", "EvaluationInterrupted",
    "EvaluationResult", "Evaluations", "Feedback", "FeedbackDropped", "FeedbackRejected",
    "PlauditSdkError", "Queues", "Score", "Span", "SpanLinks", "__version__", "datasets",
    "enrich_span", "enrich_trace", "evals", "evaluate", "evaluations", "feedback_token", "flush",
    "init", "queues", "send", "shutdown", "span",
]  # fmt: skip

_SDK_NAMES = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    if name in _SDK_NAMES:
        import plaudit.sdk

        return getattr(plaudit.sdk, name)
    raise AttributeError(f"module 'plaudit' has no attribute {name!r}")
