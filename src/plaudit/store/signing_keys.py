"""Project signing keys for per-span feedback tokens.

HMAC needs the key itself to check a signature, so the key text is stored as it is (unlike access
tokens, which are stored hashed). Anyone who can read this table can mint feedback tokens — which
allow only end-user feedback on one span each. Revoke a key to stop every token it signed.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from plaudit.core.feedback_tokens import SigningKey, key_secret, new_signing_key
from plaudit.core.times import rfc3339
from plaudit.store.projects import ensure_project
from plaudit.store.schema import signing_keys


def create_signing_key(connection: Connection, project: str, name: str = "") -> tuple[str, str]:
    """Store a new key for `project`; answers (key id, key text) — print the text once."""
    ensure_project(connection, project)
    key_id, text = new_signing_key()
    connection.execute(
        insert(signing_keys).values(
            id=key_id, project=project, name=name, key=text, created_at=datetime.now(UTC)
        )
    )
    return key_id, text


def live_signing_key(connection: Connection, key_id: str) -> SigningKey | None:
    """The live key with id `key_id`, or None if unknown or revoked."""
    row = connection.execute(
        select(signing_keys.c.project, signing_keys.c.key).where(
            signing_keys.c.id == key_id, signing_keys.c.revoked_at.is_(None)
        )
    ).first()
    return None if row is None else SigningKey(key_id, key_secret(row.key), row.project)


def newest_signing_key(connection: Connection, project: str) -> SigningKey | None:
    """The newest live key of `project`, or None if it has none."""
    row = connection.execute(
        select(signing_keys.c.id, signing_keys.c.key)
        .where(signing_keys.c.project == project, signing_keys.c.revoked_at.is_(None))
        .order_by(signing_keys.c.created_at.desc(), signing_keys.c.id)
        .limit(1)
    ).first()
    return None if row is None else SigningKey(row.id, key_secret(row.key), project)


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "project": row["project"],
        "name": row["name"],
        "created_at": rfc3339(row["created_at"]),
        "revoked_at": rfc3339(row["revoked_at"]) if row["revoked_at"] else None,
    }


def list_signing_keys(connection: Connection, project: str | None = None) -> list[dict[str, Any]]:
    """Keys without their secrets, newest first."""
    query = select(
        signing_keys.c.id,
        signing_keys.c.project,
        signing_keys.c.name,
        signing_keys.c.created_at,
        signing_keys.c.revoked_at,
    ).order_by(signing_keys.c.created_at.desc())
    if project is not None:
        query = query.where(signing_keys.c.project == project)
    return [_public(row) for row in connection.execute(query).mappings()]


def revoke_signing_key(connection: Connection, key_id: str) -> bool:
    """Revoke a key (every token it signed stops working); False if no such live key."""
    result = connection.execute(
        update(signing_keys)
        .where(signing_keys.c.id == key_id, signing_keys.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return bool(result.rowcount)
