"""`GET /v1/agreement`, `plaudit agreement` and the console's /agreement: how far an automatic
evaluator agrees with end users, span by span.

The store gives each user's latest value on the spans the evaluator scored (`paired_rows`);
here each span's users are reduced to their mean (as `per span` queries do), both sides are read
as pass/fail with their names' pass thresholds, and `core.agreement` computes the figures per
group.
"""

from collections.abc import Iterable, Iterator
from itertools import groupby
from typing import Any, Final

import msgspec
from sqlalchemy import Connection

from plaudit.analytics.metrics import mean
from plaudit.core.agreement import AgreementRequest, SpanPair, figures_of, passes
from plaudit.core.configs import DEFAULT_PASS_THRESHOLD, FeedbackConfig
from plaudit.store.agreement import UserRow, paired_rows
from plaudit.store.configs import list_configs
from plaudit.store.schema import to_micros
from plaudit.store.sql_query import time_limit

DEFAULT_TIME_LIMIT: Final = 30.0


def thresholds(connection: Connection, project: str, names: Iterable[str]) -> dict[str, float]:
    """Each name's pass threshold: its feedback config's `pass_threshold`, else the default."""
    wanted = set(names)
    found = {name: DEFAULT_PASS_THRESHOLD for name in wanted}
    for raw in list_configs(connection, project):
        if raw.get("name") in wanted:
            config = msgspec.convert(raw, FeedbackConfig)
            found[config.name] = config.threshold
    return found


def agreement(
    connection: Connection,
    project: str,
    request: AgreementRequest,
    *,
    seconds: float = DEFAULT_TIME_LIMIT,
) -> list[dict[str, Any]]:
    """The API's `items`: one per capability with `by="capability"` (spans without one last,
    as `null`), else one for all spans; none when no span has both sides."""
    limits = thresholds(connection, project, (request.user, request.evaluator))
    since = to_micros(request.since) if request.since is not None else None
    until = to_micros(request.until) if request.until is not None else None
    with time_limit(connection, seconds):
        rows = list(paired_rows(connection, project, request.user, request.evaluator, since, until))
    groups: dict[str | None, list[SpanPair]] = {}
    for capability, pair in _spans(rows, limits[request.user], limits[request.evaluator]):
        groups.setdefault(capability if request.by else None, []).append(pair)
    ordered = sorted(groups, key=lambda key: (key is None, key or ""))
    return [{"capability": key, **figures_of(groups[key]).to_json()} for key in ordered]


def _spans(
    rows: list[UserRow], user_threshold: float, evaluator_threshold: float
) -> Iterator[tuple[str | None, SpanPair]]:
    """Each span's capability and pair, from its users' rows (which arrive together)."""
    for _, span_rows in groupby(rows, key=lambda row: row.span_id):
        users = list(span_rows)
        value = mean([row.user_value for row in users])
        assert value is not None  # a span's rows are never empty
        first = users[0]
        judged = first.evaluator_value
        # The users' events carry the span's capability (filled from the span once it is
        # known); the evaluator's is the fallback.
        named = [row.capability for row in users if row.capability is not None]
        capability = max(named) if named else first.evaluator_capability
        yield (
            capability,
            SpanPair(
                user_value=value,
                user_passes=passes(value, {row.user_kind for row in users}, user_threshold),
                evaluator_value=judged,
                evaluator_passes=passes(judged, {first.evaluator_kind}, evaluator_threshold),
            ),
        )
