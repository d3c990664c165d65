"""A query past its time limit is stopped, with a problem that says what to do."""

import pytest
from sqlalchemy import Engine, text

from plaudit.store.sql_query import QueryTimeout, time_limit


def test_a_slow_statement_is_stopped(engine: Engine) -> None:
    slow = (
        "SELECT pg_sleep(2)"
        if engine.dialect.name == "postgresql"
        else "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000)"
        " SELECT count(*) FROM n"
    )
    with engine.connect() as connection:
        with pytest.raises(QueryTimeout) as raised, time_limit(connection, 0.05):
            connection.execute(text(slow))
        assert "narrow it" in raised.value.detail and raised.value.status == 422
    with engine.connect() as connection, time_limit(connection, 5):
        assert connection.execute(text("SELECT 1")).scalar_one() == 1
