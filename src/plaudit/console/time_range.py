"""The time range of a page, as its URL holds it: `since` and `until`, relative or absolute.

`since=24h` means the last 24 hours; `since=2026-11-01&until=2026-11-08` a fixed week (dates are
UTC midnights; times may be `2026-11-01T09:30`, as a browser's date-time field sends them). The
overview, the explorer and the traces page share the picker (`_range.html`) and these readings,
so a range chosen on one page means the same on the others.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import urlencode

from plaudit.core.query.model import Ago, BucketUnit, QueryError
from plaudit.core.query.text import parse_moment
from plaudit.store.schema import to_micros
from plaudit.store.sql_aggregate import Window

PRESETS: Final = ("1h", "24h", "7d", "30d")
BUCKET_SECONDS: Final = {
    BucketUnit.MINUTE: 60,
    BucketUnit.HOUR: 3_600,
    BucketUnit.DAY: 86_400,
    BucketUnit.WEEK: 7 * 86_400,
}


@dataclass(frozen=True, slots=True)
class Preset:
    """One of the picker's relative ranges."""

    label: str
    href: str
    current: bool


@dataclass(frozen=True, slots=True)
class RangePicker:
    """What `_range.html` draws: the presets, the from/to fields and what else the URL holds."""

    action: str
    since: str
    until: str
    presets: list[Preset]
    keep: list[tuple[str, str]]  # other parameters, carried as hidden fields
    described: str

    @property
    def since_local(self) -> str:
        """`since` for a datetime-local field, or '' when it is relative."""
        return _local(self.since)

    @property
    def until_local(self) -> str:
        """`until` for a datetime-local field, or ''."""
        return _local(self.until)


def _local(text: str) -> str:
    try:
        moment = parse_moment(text)
    except QueryError:
        return ""
    if not isinstance(moment, datetime):
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def moment_micros(text: str, now: datetime) -> int:
    """A `since`/`until` value in micros; QueryError says what is wrong with it."""
    moment = parse_moment(text)
    return to_micros(moment if isinstance(moment, datetime) else moment.at(now))


def window(params: dict[str, str], now: datetime) -> Window:
    """The range the parameters ask for (open ends where they are absent)."""
    return Window(
        moment_micros(params["since"], now) if params.get("since") else None,
        moment_micros(params["until"], now) if params.get("until") else None,
    )


def describe(since: str, until: str) -> str:
    """The range in words for the page."""
    if since and not until:
        try:
            moment = parse_moment(since)
        except QueryError:
            return f"since {since}"
        if isinstance(moment, Ago):
            return f"the last {since}"
        return f"since {since} UTC"
    if since and until:
        return f"{since} to {until} UTC"
    if until:
        return f"until {until} UTC"
    return "all time"


def picker(
    action: str, params: dict[str, str], since: str, until: str = "", drop: tuple[str, ...] = ()
) -> RangePicker:
    """The picker of a page at `action` whose other parameters are `params`.

    Paging positions (`after`, `page`) and anything in `drop` are not carried: a new range
    starts from the first page.
    """
    skip = {"since", "until", "range", "after", "page", "event", *drop}
    keep = [(k, v) for k, v in params.items() if k not in skip]
    presets = [
        Preset(p, f"{action}?{urlencode([*keep, ('since', p)])}", since == p and not until)
        for p in PRESETS
    ]
    return RangePicker(action, since, until, presets, keep, describe(since, until))


def bucket_for(seconds: float) -> BucketUnit:
    """A bucket giving a readable number of points over a range of `seconds`."""
    if seconds <= 3 * 3_600:
        return BucketUnit.MINUTE
    if seconds <= 3 * 86_400:
        return BucketUnit.HOUR
    if seconds <= 120 * 86_400:
        return BucketUnit.DAY
    return BucketUnit.WEEK


def floor_to(moment: datetime, unit: BucketUnit) -> datetime:
    """The start of the bucket holding `moment` (weeks start on Monday, as the query model's)."""
    seconds = BUCKET_SECONDS[unit]
    if unit is BucketUnit.WEEK:
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return day - timedelta(days=day.weekday())
    stamp = int(moment.timestamp()) // seconds * seconds
    return datetime.fromtimestamp(stamp, UTC)
