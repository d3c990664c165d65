"""Console session rows: live until ended, expired, or their token revoked (both dialects)."""

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from plaudit.core.access import Scope
from plaudit.store.console_sessions import end_session, session_is_live, start_session
from plaudit.store.tokens import create_token, revoke_token

LATER = datetime.now(UTC) + timedelta(hours=1)


def _start(engine: Engine, token_id: str | None, expires: datetime = LATER) -> str:
    sid = secrets.token_hex(16)
    with engine.begin() as connection:
        start_session(connection, sid, "default", token_id, expires)
    return sid


def _live(engine: Engine, sid: str, project: str = "default") -> bool:
    with engine.connect() as connection:
        return session_is_live(connection, sid, project)


def test_a_password_session_lives_until_it_is_ended(dialect: str, engine: Engine) -> None:
    sid = _start(engine, None)
    assert _live(engine, sid)
    assert not _live(engine, sid, project="another")
    with engine.begin() as connection:
        assert end_session(connection, sid)
        assert not end_session(connection, sid)
    assert not _live(engine, sid)


def test_a_token_session_ends_with_its_token(dialect: str, engine: Engine) -> None:
    with engine.begin() as connection:
        token_id, _ = create_token(connection, "default", frozenset({Scope.ADMIN}))
    sid = _start(engine, token_id)
    assert _live(engine, sid)
    with engine.begin() as connection:
        revoke_token(connection, token_id)
    assert not _live(engine, sid)


def test_unknown_and_expired_sessions_are_not_live(dialect: str, engine: Engine) -> None:
    assert not _live(engine, secrets.token_hex(16))
    sid = _start(engine, None, expires=datetime.now(UTC) - timedelta(seconds=1))
    assert not _live(engine, sid)
    assert not _live(engine, _start(engine, "no-such-token"))
