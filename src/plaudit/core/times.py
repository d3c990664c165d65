"""Times as Plaudit writes them: RFC 3339 in UTC, ending in `Z`.

Every answer, query text and export writes times this one way, so a client parses one form and
two times compare as text.
"""

from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Literal

Precision = Literal["auto", "seconds", "milliseconds", "microseconds"]


def rfc3339(moment: datetime, timespec: Precision = "auto") -> str:
    """`moment` (aware) as RFC 3339 in UTC with a `Z`, e.g. `2026-01-02T03:04:05.500000Z`.

    `timespec` as in `datetime.isoformat`: "auto" leaves out microseconds that are zero.
    """
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def rfc3339_micros(micros: int) -> str:
    """`rfc3339` of a time given as microseconds since the epoch, without making a datetime.

    Exports write two times per event for millions of events: plain arithmetic on the integer,
    with each day's date made once, costs a third of building and formatting a datetime.
    """
    seconds, fraction = divmod(micros, 1_000_000)
    days, second_of_day = divmod(seconds, 86_400)
    minute_of_day, second = divmod(second_of_day, 60)
    clock = f"{_day(days)}{_MINUTES[minute_of_day]}{second:02d}"
    return f"{clock}.{fraction:06d}Z" if fraction else f"{clock}Z"


@lru_cache(maxsize=4096)
def _day(days_since_epoch: int) -> str:
    return date.fromordinal(_EPOCH_ORDINAL + days_since_epoch).isoformat() + "T"


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MINUTES = tuple(f"{hour:02d}:{minute:02d}:" for hour in range(24) for minute in range(60))
