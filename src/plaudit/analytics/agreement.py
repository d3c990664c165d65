"""`GET /v1/agreement`, `plaudit agreement` and the console's /agreement: how far an automatic
evaluator agrees with end users, span by span.

The store gives each user's and the evaluator's latest values on the spans the evaluator
scored (`latest_rows`); here each span's users are reduced to their mean (as `per span` queries
do), both sides are read as pass/fail with their names' pass thresholds, and `core.agreement`
computes the figures per group.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any, Final

import msgspec
from sqlalchemy import Connection

from plaudit.analytics.metrics import mean
from plaudit.core.agreement import AgreementRequest, SpanPair, figures_of
from plaudit.core.configs import DEFAULT_PASS_THRESHOLD, FeedbackConfig
from plaudit.core.verdicts import passes
from plaudit.store.agreement import USERS, LatestRow, latest_rows
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
    return items(span_pairs(connection, project, request, seconds=seconds), request.by)


def span_pairs(
    connection: Connection,
    project: str,
    request: AgreementRequest,
    *,
    seconds: float = DEFAULT_TIME_LIMIT,
) -> list[tuple[str | None, SpanPair]]:
    """Each span with both sides: its capability and its pair (QueryTimeout past `seconds`)."""
    limits = thresholds(connection, project, (request.user, request.evaluator))
    since = to_micros(request.since) if request.since is not None else None
    until = to_micros(request.until) if request.until is not None else None
    with time_limit(connection, seconds):
        rows = list(latest_rows(connection, project, request.user, request.evaluator, since, until))
    return list(_spans(rows, limits[request.user], limits[request.evaluator]))


def items(pairs: list[tuple[str | None, SpanPair]], by: str | None) -> list[dict[str, Any]]:
    """The figures of `pairs`, per capability when `by` says so, else of them all."""
    groups: dict[str | None, list[SpanPair]] = {}
    for capability, pair in pairs:
        groups.setdefault(capability if by else None, []).append(pair)
    ordered = sorted(groups, key=lambda key: (key is None, key or ""))
    return [{"capability": key, **figures_of(groups[key]).to_json()} for key in ordered]


def _spans(
    rows: list[LatestRow], user_threshold: float, evaluator_threshold: float
) -> Iterator[tuple[str | None, SpanPair]]:
    """Each span with both sides: its capability and its pair."""
    users: dict[str, list[LatestRow]] = defaultdict(list)
    judged: dict[str, LatestRow] = {}
    for row in rows:
        if row.side == USERS:
            users[row.span_id].append(row)
        else:
            judged[row.span_id] = row
    for span_id in sorted(users.keys() & judged.keys()):
        mine, judge = users[span_id], judged[span_id]
        value = mean([row.value for row in mine])
        assert value is not None  # every span in `users` has rows
        # The users' events carry the span's capability (filled from the span once it is
        # known); the evaluator's is the fallback.
        named = [row.capability for row in mine if row.capability is not None]
        yield (
            max(named) if named else judge.capability,
            SpanPair(
                user_value=value,
                user_passes=passes(value, {row.kind for row in mine}, user_threshold),
                evaluator_value=judge.value,
                evaluator_passes=passes(judge.value, {judge.kind}, evaluator_threshold),
            ),
        )
