"""Feedback configs in the database."""

from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import Connection, delete, select

from plaudit.core.configs import FeedbackConfig
from plaudit.store.bulk import insert_rows
from plaudit.store.schema import feedback_configs, to_micros


def put_config(connection: Connection, project: str, config: FeedbackConfig) -> None:
    """Create or replace the config of a feedback name."""
    row = {
        "project": project,
        "name": config.name,
        "config": msgspec.to_builtins(config),
        "updated_at": to_micros(datetime.now(UTC)),
    }
    insert_rows(connection, feedback_configs, [row], conflict=("project", "name"))


def list_configs(connection: Connection, project: str) -> list[dict[str, Any]]:
    """The configs of a project, by name."""
    query = (
        select(feedback_configs.c.config)
        .where(feedback_configs.c.project == project)
        .order_by(feedback_configs.c.name)
    )
    return list(connection.scalars(query))


def delete_config(connection: Connection, project: str, name: str) -> bool:
    """Remove a config; False if there was none."""
    result = connection.execute(
        delete(feedback_configs).where(
            feedback_configs.c.project == project, feedback_configs.c.name == name
        )
    )
    return bool(result.rowcount)
