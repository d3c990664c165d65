"""One group commit of feedback decides each event exactly, whether it names a few ids (one
INSERT … ON CONFLICT DO NOTHING RETURNING that also reads each id's last archived revision) or
many (SQLite: one lookup, then one executemany; PostgreSQL: one insert of arrays), on both
stores: created, duplicate, revised (also twice in one group), an id deleted before continuing
after its archived revisions, a browser token refused another's event, rollups exact."""

import secrets
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select

from plaudit.core.privacy import PiiMode
from plaudit.core.validation import validate_feedback
from plaudit.store.bulk import FEW
from plaudit.store.feedback import DeleteFeedback, StoreFeedback
from plaudit.store.schema import feedback, feedback_history
from tests.store.test_rollup import assert_rollup_exact

NOW = datetime(2026, 3, 30, 12, tzinfo=UTC)


def _event(event_id: str, value: Any, **extra: Any) -> Any:
    raw = {"id": event_id, "name": "stars", "value": value, "conversation_id": "c",
           "timestamp": "2026-03-28T10:00:00Z", "metadata": {"plan": "pro", "n": 2},
           **extra}  # fmt: skip
    event = validate_feedback(raw, pointer="", now=NOW, configs={})
    assert not isinstance(event, list), event
    return event


def _store(engine: Engine, project: str, events: list[Any], browser: bool = False) -> list[str]:
    op = StoreFeedback(project, events, NOW, None, pii=PiiMode.REDACT, browser=browser)
    with engine.begin() as connection:
        return list(op.apply(connection))


def _revisions(engine: Engine, project: str) -> dict[str, int]:
    with engine.connect() as connection:
        query = select(feedback.c.id, feedback.c.revision).where(feedback.c.project == project)
        return {event_id: revision for event_id, revision in connection.execute(query)}


@pytest.mark.parametrize("filler", [0, FEW + 8], ids=["few ids", "many ids"])
def test_a_group_decides_every_event_as_its_own_request_would(engine: Engine, filler: int) -> None:
    project = f"p{secrets.token_hex(5)}"
    _store(engine, project, [_event("kept", 1), _event("changed", 1), _event("gone", 1)])
    _store(engine, project, [_event("gone", 2)])  # revision 2
    with engine.begin() as connection:
        assert DeleteFeedback(project, "gone", NOW, None).apply(connection)
    _store(engine, project, [_event("mine", 1, user_id="u1")], browser=True)
    _store(engine, project, [_event("theirs", 1, user_id="u1")])

    group = [
        _event("kept", 1),  # the same content again
        _event("changed", 2),
        _event("changed", 3),  # revised twice in one group
        _event("gone", 5),  # deleted at revision 2: comes back as 3
        _event("new", 1),
        _event("new", 1),  # a retry within the group
        _event("new", 4),  # and a revision of an event created in the same group
        *(_event(f"f{n}", n % 5) for n in range(filler)),
    ]
    assert _store(engine, project, group) == [
        "duplicate", "revised", "revised", "created", "created", "duplicate", "revised",
        *(["created"] * filler),
    ]  # fmt: skip
    browser = [_event("mine", 2, user_id="u1"), _event("theirs", 2, user_id="u1"),
               *(_event(f"b{n}", 1) for n in range(filler))]  # fmt: skip
    assert _store(engine, project, browser, browser=True)[:2] == ["revised", "refused"]

    revisions = _revisions(engine, project)
    assert {k: revisions[k] for k in ("kept", "changed", "gone", "new", "mine", "theirs")} == {
        "kept": 1, "changed": 3, "gone": 3, "new": 2, "mine": 2, "theirs": 1,
    }  # fmt: skip
    assert all(revisions[f"f{n}"] == 1 for n in range(filler))
    with engine.connect() as connection:
        history = connection.execute(
            select(feedback_history.c.feedback_id, feedback_history.c.revision)
            .where(feedback_history.c.project == project)
            .order_by(feedback_history.c.seq)
        ).all()
        assert [tuple(row) for row in history] == [
            ("gone", 1), ("gone", 2), ("changed", 1), ("changed", 2), ("new", 1), ("mine", 1),
        ]  # fmt: skip
        assert_rollup_exact(connection, project)
