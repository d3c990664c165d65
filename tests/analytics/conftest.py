"""A migrated database per module and dialect, shared by the tests of the module."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from plaudit.store.database import create_database_engine
from plaudit.store.migrate import upgrade


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    """The module's database, migrated."""
    engine = create_database_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()
