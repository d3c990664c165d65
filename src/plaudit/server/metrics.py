"""Prometheus metrics of the server (exposed at /metrics)."""

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge

REGISTRY: Final = CollectorRegistry()

FEEDBACK_EVENTS: Final = Counter(
    "plaudit_feedback_events", "Feedback events by result", ["status"], registry=REGISTRY
)
SPANS: Final = Counter("plaudit_spans", "OTLP spans by result", ["status"], registry=REGISTRY)
LOG_RECORDS: Final = Counter(
    "plaudit_log_records",
    "OTLP log records: GenAI events kept as span messages, others ignored, unplaceable rejected",
    ["status"],
    registry=REGISTRY,
)
METRIC_EXPORTS: Final = Counter(
    "plaudit_metric_exports",
    "OTLP metrics exports accepted and dropped (Plaudit keeps no metrics)",
    registry=REGISTRY,
)
WRITER_PENDING: Final = Gauge(
    "plaudit_writer_pending", "Writes queued and not yet committed", registry=REGISTRY
)
WRITER_COMMITS: Final = Gauge(
    "plaudit_writer_commits", "Group commits since start", registry=REGISTRY
)
