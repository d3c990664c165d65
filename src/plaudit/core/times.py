"""Times as Plaudit writes them: RFC 3339 in UTC, ending in `Z`.

Every answer, query text and export writes times this one way, so a client parses one form and
two times compare as text.
"""

from datetime import UTC, datetime
from typing import Literal

Precision = Literal["auto", "seconds", "milliseconds", "microseconds"]


def rfc3339(moment: datetime, timespec: Precision = "auto") -> str:
    """`moment` (aware) as RFC 3339 in UTC with a `Z`, e.g. `2026-01-02T03:04:05.5Z`.

    `timespec` as in `datetime.isoformat`: "auto" leaves out microseconds that are zero.
    """
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
