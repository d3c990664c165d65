"""Times written from microseconds must read exactly as times written from datetimes."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from plaudit.core.times import rfc3339, rfc3339_micros
from plaudit.store.schema import from_micros, to_micros

FIRST, LAST = datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


@given(st.integers(to_micros(FIRST), to_micros(LAST)))
def test_micros_are_written_as_their_datetime_is(micros: int) -> None:
    assert rfc3339_micros(micros) == rfc3339(from_micros(micros))


def test_edges_of_seconds_days_and_the_epoch() -> None:
    for micros in (0, 1, -1, 999_999, 1_000_000, 86_399_999_999, 86_400_000_000, -86_400_000_001):
        assert rfc3339_micros(micros) == rfc3339(from_micros(micros))
    assert rfc3339_micros(0) == "1970-01-01T00:00:00Z"
    assert rfc3339_micros(-1) == "1969-12-31T23:59:59.999999Z"
    assert rfc3339_micros(1_500_000) == "1970-01-01T00:00:01.500000Z"
