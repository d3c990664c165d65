"""The rows agreement is computed from: the latest values of end users and of an evaluator on
the spans the evaluator scored.

One statement, the same on SQLite and PostgreSQL, with no join: the users' events (read by
name through `ix_feedback_query`, only those on spans the evaluator scored) and the evaluator's
events are put one after the other (UNION ALL), and one window function keeps each user's latest
event per span (as `per span` queries do: latest `timestamp`, then `id`; an event without a
`user_id` is a user of its own) and the evaluator's latest event per span. The caller pairs the
two sides by span and takes the mean across users with the query model's `fsum` mean.

A join of the two ranked sides would read the same, but SQLite may plan it as nested scans of
both (seconds at 100,000 spans, minutes past that); the ranked union is one sort.
"""

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Connection,
    case,
    func,
    literal,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from plaudit.core.feedback import Kind, Source
from plaudit.store.schema import feedback, feedback_rollup

# The kinds whose values are numbers (`value_num`): thumbs ±1, bools 1/0, numbers.
RATED_KINDS: Final = (Kind.THUMB.value, Kind.BOOL.value, Kind.NUMBER.value)
USERS: Final = 0
EVALUATOR: Final = 1


@dataclass(frozen=True, slots=True)
class LatestRow:
    """One user's (`side` USERS) or the evaluator's (`side` EVALUATOR) latest value on a span."""

    span_id: str
    side: int
    capability: str | None
    kind: str
    value: float


def _matching(
    table: Any, project: str, name: str, source: Source, since: int | None, until: int | None
) -> list[ColumnElement[bool]]:
    """Events of `table` (the feedback table or an alias of it) named `name` from `source`."""
    at = type_coerce(table.c.timestamp, BigInteger)
    conditions = [
        table.c.project == project,
        table.c.name == name,
        table.c.source == source.value,
        table.c.span_id.is_not(None),
    ]
    if since is not None:
        conditions.append(at >= since)
    if until is not None:
        conditions.append(at < until)
    return conditions


def _side(side: int, conditions: list[ColumnElement[bool]]) -> Any:
    """One side's events with what ranking them needs: per span, and per user for the users
    (an event without a user ranks alone, keyed by its id)."""
    per_user = side == USERS
    user = feedback.c.user_id if per_user else null()
    alone = case((feedback.c.user_id.is_(None), feedback.c.id)) if per_user else null()
    return select(
        literal(side).label("side"),
        feedback.c.span_id.label("span_id"),
        user.label("user_key"),
        alone.label("alone"),
        type_coerce(feedback.c.timestamp, BigInteger).label("at"),
        feedback.c.id.label("id"),
        feedback.c.capability.label("capability"),
        feedback.c.kind.label("kind"),
        feedback.c.value_num.label("value_num"),
    ).where(*conditions)


def latest_rows(
    connection: Connection,
    project: str,
    user: str,
    evaluator: str,
    since: int | None = None,
    until: int | None = None,
) -> list[LatestRow]:
    """Per span the evaluator scored: its latest value of `evaluator` (from evaluators) and each
    end user's latest value of `user`, where those are numbers (thumbs ±1, bools 1/0,
    numbers; in no particular order. `since`/`until` bound `timestamp` (micros)."""
    scored = feedback.alias("scored")
    on_scored = feedback.c.span_id.in_(
        select(scored.c.span_id).where(
            *_matching(scored, project, evaluator, Source.EVALUATOR, since, until)
        )
    )
    users = _matching(feedback, project, user, Source.END_USER, since, until)
    judge = _matching(feedback, project, evaluator, Source.EVALUATOR, since, until)
    both = union_all(_side(USERS, [*users, on_scored]), _side(EVALUATOR, judge)).subquery("both")
    c = both.c
    newest = func.row_number().over(
        partition_by=[c.side, c.span_id, c.user_key, c.alone], order_by=[c.at.desc(), c.id.desc()]
    )
    ranked = select(
        c.span_id, c.side, c.capability, c.kind, c.value_num, newest.label("rn")
    ).subquery("ranked")
    r = ranked.c
    statement = select(r.span_id, r.side, r.capability, r.kind, r.value_num).where(
        r.rn == 1, r.value_num.is_not(None)
    )
    # Fetched at once: row by row costs a driver call per row, a third of the time here.
    return [LatestRow(*row) for row in connection.execute(statement).all()]


def rated_names(connection: Connection, project: str) -> dict[Source, list[str]]:
    """The feedback names end users and evaluators have given as thumbs, bools or numbers,
    sorted (read from the daily rollup, which holds one row per name, kind and source a day)."""
    statement = (
        select(feedback_rollup.c.source, feedback_rollup.c.name)
        .where(
            feedback_rollup.c.project == project,
            feedback_rollup.c.kind.in_(RATED_KINDS),
            feedback_rollup.c.source.in_([Source.END_USER.value, Source.EVALUATOR.value]),
        )
        .distinct()
    )
    names: dict[Source, list[str]] = {Source.END_USER: [], Source.EVALUATOR: []}
    for source, name in connection.execute(statement):
        names[Source(source)].append(name)
    return {source: sorted(found) for source, found in names.items()}
