"""The rows agreement is computed from: end users' latest values on spans an evaluator scored.

One statement, the same on SQLite and PostgreSQL. Window functions pick each user's latest event
per span (as `per span` queries do: latest `timestamp`, then `id`; an event without a `user_id`
is a user of its own) and the evaluator's latest event per span; a join keeps the spans that
have both. The mean across users is taken by the caller, with the query model's `fsum` mean.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, case, func, select
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

from plaudit.core.feedback import Kind, Source
from plaudit.store.schema import feedback, feedback_rollup
from plaudit.store.sql_query import event_micros

# The kinds whose values are numbers (`value_num`): thumbs ±1, bools 1/0, numbers.
RATED_KINDS: Final = (Kind.THUMB.value, Kind.BOOL.value, Kind.NUMBER.value)


@dataclass(frozen=True, slots=True)
class UserRow:
    """One user's latest value on a span, with the evaluator's latest value on that span."""

    span_id: str
    capability: str | None
    user_kind: str
    user_value: float
    evaluator_capability: str | None
    evaluator_kind: str
    evaluator_value: float


def _latest(
    project: str,
    name: str,
    source: Source,
    per_user: bool,
    since: int | None,
    until: int | None,
    alias: str,
) -> Subquery:
    partition: list[ColumnElement[Any]] = [feedback.c.span_id]
    if per_user:
        anonymous = case((feedback.c.user_id.is_(None), feedback.c.id))
        partition += [feedback.c.user_id, anonymous]
    newest = func.row_number().over(
        partition_by=partition, order_by=[event_micros.desc(), feedback.c.id.desc()]
    )
    conditions = [
        feedback.c.project == project,
        feedback.c.name == name,
        feedback.c.source == source.value,
        feedback.c.span_id.is_not(None),
    ]
    if since is not None:
        conditions.append(event_micros >= since)
    if until is not None:
        conditions.append(event_micros < until)
    return (
        select(
            feedback.c.span_id,
            feedback.c.capability,
            feedback.c.kind,
            feedback.c.value_num,
            newest.label("rn"),
        )
        .where(*conditions)
        .subquery(alias)
    )


def paired_rows(
    connection: Connection,
    project: str,
    user: str,
    evaluator: str,
    since: int | None = None,
    until: int | None = None,
) -> Iterator[UserRow]:
    """Per span and user, the user's latest value of `user` (from end users) beside the latest
    value of `evaluator` (from evaluators), for spans where both are numbers (thumbs ±1, bools
    1/0, numbers); ordered by span. `since`/`until` bound the events' `timestamp` (micros)."""
    users = _latest(project, user, Source.END_USER, True, since, until, "users")
    judged = _latest(project, evaluator, Source.EVALUATOR, False, since, until, "judged")
    statement = (
        select(
            users.c.span_id,
            users.c.capability,
            users.c.kind,
            users.c.value_num,
            judged.c.capability,
            judged.c.kind,
            judged.c.value_num,
        )
        .select_from(users.join(judged, users.c.span_id == judged.c.span_id))
        .where(
            users.c.rn == 1,
            judged.c.rn == 1,
            users.c.value_num.is_not(None),
            judged.c.value_num.is_not(None),
        )
        .order_by(users.c.span_id)
    )
    for row in connection.execute(statement):
        yield UserRow(*row)


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
