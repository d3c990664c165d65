"""Console sessions in the database, so that signing out and revoking a token end them.

The cookie names a session by a random id; only its SHA-256 is stored (a database leak does not
hand out live cookies). A session signed in with an admin token lives only as long as that token.
"""

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import Connection, delete, insert, select, update

from plaudit.store.schema import console_sessions, tokens

# Rows of sessions that expired longer ago than this are deleted when a new session starts.
KEEP_EXPIRED: Final = timedelta(days=7)


def session_key(sid: str) -> str:
    """The stored id of the session named `sid` in a cookie."""
    return hashlib.sha256(sid.encode()).hexdigest()


def start_session(
    connection: Connection, sid: str, project: str, token_id: str | None, expires_at: datetime
) -> None:
    """Record a new session (and drop long-expired ones, so the table stays small)."""
    now = datetime.now(UTC)
    connection.execute(
        delete(console_sessions).where(console_sessions.c.expires_at < now - KEEP_EXPIRED)
    )
    connection.execute(
        insert(console_sessions).values(
            id=session_key(sid), project=project, token_id=token_id,
            created_at=now, expires_at=expires_at,
        )
    )  # fmt: skip


def end_session(connection: Connection, sid: str) -> bool:
    """Mark a session ended (signed out); False if it was not live."""
    statement = (
        update(console_sessions)
        .where(console_sessions.c.id == session_key(sid), console_sessions.c.ended_at.is_(None))
        .values(ended_at=datetime.now(UTC))
    )
    return bool(connection.execute(statement).rowcount)


def session_is_live(connection: Connection, sid: str, project: str) -> bool:
    """Whether the session exists for `project`, is neither ended nor expired, and its token (if
    it signed in with one) is not revoked."""
    row = connection.execute(
        select(
            console_sessions.c.project,
            console_sessions.c.token_id,
            console_sessions.c.expires_at,
            console_sessions.c.ended_at,
            tokens.c.revoked_at,
            tokens.c.id.label("token_found"),
        )
        .select_from(console_sessions.outerjoin(tokens, tokens.c.id == console_sessions.c.token_id))
        .where(console_sessions.c.id == session_key(sid))
    ).first()
    if row is None or row.project != project or row.ended_at is not None:
        return False
    if row.expires_at <= datetime.now(UTC):
        return False
    if row.token_id is None:
        return True
    return row.token_found is not None and row.revoked_at is None


def signed_in_as(connection: Connection, sid: str) -> str | None:
    """The name of the token the session signed in with (None for the console password or a
    token without a name)."""
    name = connection.scalar(
        select(tokens.c.name)
        .select_from(console_sessions.join(tokens, tokens.c.id == console_sessions.c.token_id))
        .where(console_sessions.c.id == session_key(sid))
    )
    return name or None
