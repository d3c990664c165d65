"""The tables, in SQLAlchemy Core, portable across SQLite and PostgreSQL.

Times are integer microseconds since the epoch (`UtcMicros`): exact, cheap to index, and bucketed
by plain integer arithmetic in both stores. JSON columns are JSONB on PostgreSQL.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    false,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQL NULL for None (not JSON `null`), so "absent" has one representation in every column.
Json = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """The aware UTC datetime of microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=micros)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class UtcMicros(TypeDecorator[datetime]):
    """An aware datetime stored as integer microseconds since the epoch."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None or isinstance(value, int):
            return value
        return to_micros(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else from_micros(int(value))


def _partial_index(name: str | None, *columns: Any, where: str) -> Index:
    """An index of the rows where `where` holds, on both databases: rows it would never find
    cost no entry on insert."""
    condition = text(where)
    return Index(name, *columns, sqlite_where=condition, postgresql_where=condition)


def _response_index() -> Index:
    # Partial: most rows name no response id, and an index entry for each NULL would cost every
    # insert for nothing. Lookups (`response_id IN (…)`) imply NOT NULL, so they can use it.
    return _partial_index(None, "project", "response_id", where="response_id IS NOT NULL")


PENDING = "link_status = 'pending'"
"""The condition of `ix_feedback_pending`; a query uses the index only when its WHERE says so."""


def _name(column: str, **kwargs: Any) -> Column[str]:
    return Column(column, String(128), **kwargs)


projects = Table(
    "projects",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("created_at", UtcMicros(), nullable=False),
    # What happens to PII found in free text: redact, flag or off (migration 0006).
    Column("pii_mode", String(8), nullable=False, server_default="redact"),
    # Whether proxied calls keep their prompt and answer messages (migration 0009).
    Column("capture_content", Boolean, nullable=False, server_default=true()),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project", String(128), nullable=False),
    Column("name", String(256), nullable=False, server_default=""),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("scopes", Json, nullable=False),
    Column("origins", Json),
    Column("created_at", UtcMicros(), nullable=False),
    Column("revoked_at", UtcMicros()),
    Index(None, "project"),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # SHA-256 of the session id in the cookie
    Column("project", String(128), nullable=False),
    Column("token_id", String(32), index=True),  # None: signed in with the console password
    Column("created_at", UtcMicros(), nullable=False),
    Column("expires_at", UtcMicros(), nullable=False),
    Column("ended_at", UtcMicros()),
)

feedback_configs = Table(
    "feedback_configs",
    metadata,
    Column("project", String(128), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("config", Json, nullable=False),
    Column("updated_at", UtcMicros(), nullable=False),
)

feedback = Table(
    "feedback",
    metadata,
    Column("project", String(128), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("trace_id", String(32)),
    Column("span_id", String(16)),
    Column("conversation_id", String(256)),
    _name("capability"),
    _name("step"),
    _name("name", nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value", Json),
    Column("value_num", Float),
    Column("value_text", Text),
    Column("comment", Text),
    Column("expected", Json),
    Column("scores", Json),
    Column("signal_type", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("implicit", Boolean, nullable=False),
    Column("user_id", String(256)),
    Column("metadata", Json),
    Column("tags", Json),
    Column("timestamp", UtcMicros(), nullable=False),
    Column("received_at", UtcMicros(), nullable=False),
    Column("link_status", String(8), nullable=False),
    Column("pii", Json),
    Column("content_hash", String(32), nullable=False),
    Column("revision", Integer, nullable=False),
    # Written by a browser-safe token (migration 0007): only such events may a browser revise.
    Column("browser", Boolean, nullable=False, server_default=false()),
    Column("response_id", String(256)),  # a target: the span with this gen_ai.response.id (0010)
    _response_index(),
    Index(None, "project", "timestamp", "capability", "kind", "value_num"),
    Index(None, "project", "trace_id"),
    # Only the events still waiting for their target (migration 0014): linking looks them up by
    # span id, start-up linking reads a project's all. A linked event costs it no entry; readers
    # of linked events by span id go through the span's traces (`Compiler.about_span`).
    _partial_index("ix_feedback_pending", "project", "span_id", where=PENDING),
)

feedback_history = Table(
    "feedback_history",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("project", String(128), nullable=False),
    Column("feedback_id", String(64), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("operation", String(16), nullable=False),
    Column("content", Json, nullable=False),
    Column("recorded_at", UtcMicros(), nullable=False),
    Column("actor", String(32)),
    Index(None, "project", "feedback_id"),
)

spans = Table(
    "spans",
    metadata,
    Column("project", String(128), primary_key=True),
    Column("trace_id", String(32), primary_key=True),
    Column("span_id", String(16), primary_key=True),
    Column("parent_span_id", String(16)),
    Column("name", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("start_time_ns", BigInteger, nullable=False),
    Column("end_time_ns", BigInteger, nullable=False),
    Column("status_code", String(8), nullable=False),
    Column("status_message", Text, nullable=False),
    Column("attributes", Json, nullable=False),
    Column("events", Json, nullable=False),
    Column("links", Json, nullable=False),
    Column("resource", Json, nullable=False),
    Column("scope", Json, nullable=False),
    _name("capability"),
    _name("step"),
    Column("conversation_id", String(256)),
    Column("user_id", String(256)),
    Column("received_at", UtcMicros(), nullable=False),
    Index(None, "project", "span_id"),
    # Partial (migration 0015): most spans name no conversation, and readers always name one.
    _partial_index(
        "ix_spans_project_conversation_id",
        "project",
        "conversation_id",
        where="conversation_id IS NOT NULL",
    ),
    # The provider's response id (`gen_ai.response.id`), which feedback may target (0010).
    Column("response_id", String(256)),
    _response_index(),
)

# Enrichment (PATCH) is kept apart from what OTLP sent, so a re-exported span never erases it and a
# PATCH may come before its span; readers merge the two.
span_messages = Table(
    "span_messages",
    metadata,
    # A span's input and output messages sent as GenAI events in OTLP logs (migration 0011).
    Column("project", String(128), primary_key=True),
    Column("span_id", String(16), primary_key=True),
    Column("record", String(32), primary_key=True),  # digest of the log record
    Column("position", Integer, primary_key=True),
    Column("trace_id", String(32), nullable=False),
    Column("time_unix_nano", BigInteger, nullable=False),
    Column("side", String(8), nullable=False),
    Column("message", Json, nullable=False),
    Index(None, "project", "trace_id"),
)

span_enrichments = Table(
    "span_enrichments",
    metadata,
    Column("project", String(128), primary_key=True),
    Column("span_id", String(16), primary_key=True),
    Column("attributes", Json),
    Column("tags", Json),
    Column("feedback", Json),
    Column("updated_at", UtcMicros(), nullable=False),
)

trace_enrichments = Table(
    "trace_enrichments",
    metadata,
    Column("project", String(128), primary_key=True),
    Column("trace_id", String(32), primary_key=True),
    Column("attributes", Json),
    Column("tags", Json),
    Column("feedback", Json),
    Column("updated_at", UtcMicros(), nullable=False),
)

# Queries by feedback name and time (migrations 0002, 0005, 0014): covers the raw edges of rollup
# queries, numeric metrics and the explorer's newest-first page without reading the JSON-heavy
# rows; trace search by feedback reads it in time order and the rows of one page.
Index(
    "ix_feedback_query",
    feedback.c.project,
    feedback.c.name,
    feedback.c.timestamp,
    feedback.c.capability,
    feedback.c.kind,
    feedback.c.value_num,
)

# Per-day sums of the events of each combination of low-cardinality fields (migration 0005),
# kept exact by store.rollup_writes on every write; read by store.rollup. `day` is the UTC day's
# first microsecond, floored (also before 1970); `cell` identifies the combination.
ROLLUP_DIMENSIONS = (
    "name", "capability", "step", "kind", "source", "signal_type", "implicit", "link_status",
)  # fmt: skip


def _rollup_sums() -> list[Column[Any]]:
    return [
        Column("count", BigInteger, nullable=False),
        Column("up", BigInteger, nullable=False),
        Column("down", BigInteger, nullable=False),
        Column("value_count", BigInteger, nullable=False),
        Column("value_sum", Float, nullable=False),
        Column("value_inexact", BigInteger, nullable=False),
    ]


feedback_rollup = Table(
    "feedback_rollup",
    metadata,
    Column("project", String(128), nullable=False),
    Column("day", BigInteger, nullable=False),
    Column("cell", Text, nullable=False),
    _name("name", nullable=False),
    _name("capability"),
    _name("step"),
    Column("kind", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("signal_type", String(16), nullable=False),
    Column("implicit", Boolean, nullable=False),
    Column("link_status", String(8), nullable=False),
    *_rollup_sums(),
    PrimaryKeyConstraint("project", "name", "day", "cell"),
    # Clustered by key on SQLite (migration 0014): the key, `cell` and all, is stored once.
    sqlite_with_rowid=False,
)

# The same sums per day, name, capability and top-level metadata entry holding a string, number or
# boolean: `count by metadata.plan` reads rollup rows instead of parsing every event's metadata.
# Numbers (and booleans as 1/0) are in `value_num`, strings in `value_text`; `value_type` is
# "s", "n" or "b".
feedback_metadata_rollup = Table(
    "feedback_metadata_rollup",
    metadata,
    Column("project", String(128), nullable=False),
    Column("key", Text, nullable=False),
    Column("day", BigInteger, nullable=False),
    Column("cell", Text, nullable=False),
    _name("name", nullable=False),
    _name("capability"),
    Column("value_type", String(1), nullable=False),
    Column("value_text", Text),
    Column("value_num", Float),
    *_rollup_sums(),
    PrimaryKeyConstraint("project", "key", "day", "cell"),
    sqlite_with_rowid=False,
)

# Per-project keys that sign per-span feedback tokens (HMAC needs the key itself, so it is kept).
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project", String(128), nullable=False),
    Column("name", String(256), nullable=False, server_default=""),
    Column("key", String(128), nullable=False),
    Column("created_at", UtcMicros(), nullable=False),
    Column("revoked_at", UtcMicros()),
    Index(None, "project"),
)

# The improvement loop (migration 0008). A dataset's `version` is its newest; each
# change writes one `dataset_versions` row with what it did.
datasets = Table(
    "datasets",
    metadata,
    Column("project", String(128), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("description", Text),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcMicros(), nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("project", String(128), primary_key=True),
    Column("dataset", String(128), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("created_at", UtcMicros(), nullable=False),
    Column("added", Integer, nullable=False),
    Column("revised", Integer, nullable=False),
    Column("removed", Integer, nullable=False),
)

# Each row is one content of one example, live from `version_from` until before `version_to`
# (NULL: still current). Any version is one indexed range read, with no replay of changes.
dataset_examples = Table(
    "dataset_examples",
    metadata,
    Column("project", String(128), primary_key=True),
    Column("dataset", String(128), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("version_from", Integer, primary_key=True),
    Column("version_to", Integer),
    Column("content", Json, nullable=False),
    Column("content_hash", String(32), nullable=False),
    Column("annotation_status", String(8), nullable=False),
    # Clustered by key on SQLite, so a version's examples are read in one sequential pass.
    sqlite_with_rowid=False,
)

annotation_queues = Table(
    "annotation_queues",
    metadata,
    Column("project", String(128), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("feedback_names", Json, nullable=False),
    Column("instructions", Text),
    Column("fill", Json),
    # The newest `received_at` the fill has looked at (micros); the sweep reads a little before it.
    Column("fill_mark", BigInteger),
    Column("created_at", UtcMicros(), nullable=False),
)

annotation_items = Table(
    "annotation_items",
    metadata,
    Column("project", String(128), primary_key=True),
    Column("queue", String(128), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("status", String(8), nullable=False),
    Column("trace_id", String(32)),
    Column("span_id", String(16)),
    Column("dataset", String(128)),
    Column("example_id", String(64)),
    Column("created_at", UtcMicros(), nullable=False),
    Column("done_by", String(256)),
    Column("done_at", UtcMicros()),
    Column("held_by", String(256)),
    Column("held_until", UtcMicros()),
    Index(None, "project", "queue", "status", "created_at"),
)

# Queue fill reads feedback received since its last look (migration 0008).
Index("ix_feedback_received", feedback.c.project, feedback.c.received_at)

# The console's traces, conversation and user pages (migration 0013): newest root spans, and a
# conversation's or a user's feedback. Partial, so rows they never find cost no entry on insert.
_partial_index(
    "ix_spans_roots", spans.c.project, spans.c.start_time_ns, where="parent_span_id IS NULL"
)
for _owner in (feedback.c.conversation_id, feedback.c.user_id):
    _partial_index(
        f"ix_feedback_{_owner.name.removesuffix('_id')}",
        feedback.c.project,
        _owner,
        feedback.c.timestamp,
        where=f"{_owner.name} IS NOT NULL",
    )

# An evaluation run scores every example of one dataset version (or a chosen part of it: `only`).
evaluation_runs = Table(
    "evaluation_runs",
    metadata,
    Column("project", String(128), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("name", String(256)),
    Column("dataset", String(128), nullable=False),
    Column("dataset_version", Integer, nullable=False),
    Column("only", String(16)),
    Column("status", String(8), nullable=False),
    Column("examples", Integer, nullable=False),
    Column("created_at", UtcMicros(), nullable=False),
    Column("finished_at", UtcMicros()),
    Index("ix_evaluation_runs_dataset", "project", "dataset", "created_at"),
)

# One row per example of a run from its start (`pending`), so a resumed run knows what is left
# and a result for an example outside the run is refused.
evaluation_results = Table(
    "evaluation_results",
    metadata,
    Column("project", String(128), primary_key=True),
    Column("run", String(64), primary_key=True),
    Column("example_id", String(64), primary_key=True),
    Column("status", String(8), nullable=False),
    Column("output", Json),
    Column("trace_id", String(32)),
    Column("span_id", String(16)),
    Column("error", Text),
    Column("updated_at", UtcMicros()),
    sqlite_with_rowid=False,
)

# One row per (example, score name) of a run, its verdict fixed when stored: means, pass rates
# and comparisons are SQL over this table, and failures (guardrails) are one index range per run.
evaluation_scores = Table(
    "evaluation_scores",
    metadata,
    Column("project", String(128), primary_key=True),
    Column("run", String(64), primary_key=True),
    Column("example_id", String(64), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("value", Json, nullable=False),
    Column("number", Float, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("comment", Text),
    Index("ix_evaluation_scores_passed", "project", "run", "passed"),
    sqlite_with_rowid=False,
)
