"""Access tokens in the database; only token hashes are stored."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from plaudit.core.access import Principal, Scope, hash_token, new_token
from plaudit.core.times import rfc3339
from plaudit.store.projects import ensure_project
from plaudit.store.schema import tokens


def create_token(
    connection: Connection,
    project: str,
    scopes: frozenset[Scope],
    name: str = "",
    origins: list[str] | None = None,
) -> tuple[str, str]:
    """Store a new token's hash; answers (id, secret) — the only time the secret exists."""
    ensure_project(connection, project)
    token_id, secret = new_token(scopes)
    connection.execute(
        insert(tokens).values(
            id=token_id,
            project=project,
            name=name,
            token_hash=hash_token(secret),
            scopes=sorted(scopes),
            origins=origins,
            created_at=datetime.now(UTC),
        )
    )
    return token_id, secret


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "project": row["project"],
        "name": row["name"],
        "scopes": row["scopes"],
        "origins": row["origins"],
        "browser_safe": row["scopes"] == [Scope.FEEDBACK_WRITE.value],
        "created_at": rfc3339(row["created_at"]),
        "revoked_at": rfc3339(row["revoked_at"]) if row["revoked_at"] else None,
    }


def list_tokens(connection: Connection, project: str | None = None) -> list[dict[str, Any]]:
    """Tokens without their secrets, newest first."""
    query = select(tokens).order_by(tokens.c.created_at.desc())
    if project is not None:
        query = query.where(tokens.c.project == project)
    return [_public(row) for row in connection.execute(query).mappings()]


def revoke_token(connection: Connection, token_id: str, project: str | None = None) -> bool:
    """Revoke a token; False if no such live token."""
    statement = update(tokens).where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
    if project is not None:
        statement = statement.where(tokens.c.project == project)
    result = connection.execute(statement.values(revoked_at=datetime.now(UTC)))
    return bool(result.rowcount)


def principal_for(connection: Connection, secret: str) -> Principal | None:
    """The live token matching `secret`, as a principal; None if unknown or revoked."""
    row = (
        connection.execute(select(tokens).where(tokens.c.token_hash == hash_token(secret)))
        .mappings()
        .first()
    )
    if row is None or row["revoked_at"] is not None:
        return None
    return Principal(
        project=row["project"],
        scopes=frozenset(Scope(s) for s in row["scopes"]),
        token_id=row["id"],
        origins=tuple(row["origins"]) if row["origins"] is not None else None,
    )
