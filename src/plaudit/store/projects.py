"""Projects in the database: existence and per-project settings."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from plaudit.core.privacy import PiiMode
from plaudit.core.times import rfc3339
from plaudit.store.schema import projects


def ensure_project(connection: Connection, project: str) -> None:
    """Create `project` if it does not exist."""
    exists = connection.scalar(select(projects.c.name).where(projects.c.name == project))
    if exists is None:
        connection.execute(insert(projects).values(name=project, created_at=datetime.now(UTC)))


def list_projects(connection: Connection) -> list[dict[str, Any]]:
    """Every project, by name."""
    rows = connection.execute(select(projects).order_by(projects.c.name)).mappings()
    return [
        {
            "name": row["name"],
            "created_at": rfc3339(row["created_at"]),
            "pii": row["pii_mode"],
            "capture_content": row["capture_content"],
        }
        for row in rows
    ]


def pii_mode(connection: Connection, project: str) -> PiiMode:
    """What the project does with PII found in feedback text (`redact` if it is not stored)."""
    found = connection.scalar(select(projects.c.pii_mode).where(projects.c.name == project))
    return PiiMode(found) if found is not None else PiiMode.REDACT


def set_pii_mode(connection: Connection, project: str, mode: PiiMode) -> None:
    """Set the project's PII mode (creating the project if needed)."""
    ensure_project(connection, project)
    connection.execute(
        update(projects).where(projects.c.name == project).values(pii_mode=mode.value)
    )


def captures_content(connection: Connection, project: str) -> bool:
    """Whether proxied calls of the project keep their messages (yes unless turned off)."""
    found = connection.scalar(select(projects.c.capture_content).where(projects.c.name == project))
    return bool(found) if found is not None else True


def set_capture_content(connection: Connection, project: str, capture: bool) -> None:
    """Turn message capture of proxied calls on or off (creating the project if needed)."""
    ensure_project(connection, project)
    connection.execute(
        update(projects).where(projects.c.name == project).values(capture_content=capture)
    )
