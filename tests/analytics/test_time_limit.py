"""A query past its time limit is stopped, with a problem that says what to do."""

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from plaudit.analytics.run import Budget
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


def test_python_reading_rows_is_held_to_the_same_deadline() -> None:
    """Reducing rows in Python (percentiles, per-span values) counts against the time limit: the
    database's own limit stops only its statements."""

    def slow_rows() -> Iterator[int]:
        for row in range(100_000):
            time.sleep(0.0001)  # 10 s for all of them
            yield row

    began = time.monotonic()
    with pytest.raises(QueryTimeout) as raised:
        for _ in Budget(0.2).rows(slow_rows()):
            pass
    assert time.monotonic() - began < 2 and "narrow it" in raised.value.detail
    assert list(Budget(5).rows(range(1000))) == list(range(1000))
