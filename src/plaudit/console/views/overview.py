"""`/`: volume and satisfaction per capability, their trends, and who moved most.

One aggregate query of the query model answers the whole page: `count, up, down by capability,
<bucket>` over two periods of whole buckets (this one, including the bucket in progress, and the
one before; a bucket is a minute, hour, day or week, by the length of the range). The table,
the movers and both trend charts are sums of its rows, so the database reads the period's events
once. Satisfaction is up / (up + down), exactly as the query model
defines it. The answer is kept for OVERVIEW_SECONDS per project and range.
"""

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from litestar import Request, Response, get
from sqlalchemy import Connection

from plaudit.analytics.run import Answer, run_query
from plaudit.console.cache import cached
from plaudit.console.pages import CapabilityRow, Chart, OverviewPage
from plaudit.console.render import page, started
from plaudit.console.time_range import (
    BUCKET_SECONDS,
    PRESETS,
    RangePicker,
    bucket_for,
    floor_to,
    moment_micros,
    picker,
)
from plaudit.console.views.common import chrome, query_params, signed_in
from plaudit.core.query.model import BucketUnit, QueryError
from plaudit.core.query.text import parse_query
from plaudit.core.times import rfc3339

DEFAULT_SINCE: Final = "7d"
OVERVIEW_SECONDS: Final = 30.0


@dataclass(frozen=True, slots=True)
class Period:
    """Whole buckets of this period (the bucket in progress included) and as many before."""

    unit: BucketUnit
    buckets: int
    previous: datetime  # the previous period's first bucket
    start: datetime  # this period's first bucket

    @property
    def step(self) -> timedelta:
        """One bucket."""
        return timedelta(seconds=BUCKET_SECONDS[self.unit])

    @property
    def end(self) -> datetime:
        """Just past this period's last bucket."""
        return self.start + self.step * self.buckets


def period_of(since: str, until: str, now: datetime) -> Period:
    """The buckets a range covers; QueryError when `since` or `until` is not a time."""
    first = datetime.fromtimestamp(moment_micros(since, now) / 1e6, UTC)
    last = datetime.fromtimestamp(moment_micros(until, now) / 1e6, UTC) if until else now
    if last <= first:
        raise QueryError("the range ends before it starts")
    unit = bucket_for((last - first).total_seconds())
    step = timedelta(seconds=BUCKET_SECONDS[unit])
    buckets = max(1, math.ceil((last - first) / step))
    # The last bucket holds the range's end (exclusive when it is given, now when it is not).
    closing = floor_to(last - timedelta(microseconds=1) if until else last, unit)
    start = closing - step * (buckets - 1)
    return Period(unit, buckets, start - step * buckets, start)


def period_start(period: str, now: datetime) -> tuple[datetime, datetime]:
    """(start of the previous period, start of this one), on bucket boundaries."""
    found = period_of(period, "", now)
    return found.previous, found.start


@dataclass(frozen=True, slots=True)
class Tally:
    """Events and thumbs of one capability in one stretch of time."""

    count: int = 0
    up: int = 0
    down: int = 0

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(self.count + other.count, self.up + other.up, self.down + other.down)

    @property
    def satisfaction(self) -> float | None:
        """up / (up + down), None without thumbs."""
        return self.up / (self.up + self.down) if self.up + self.down else None


def overview_answer(connection: Connection, project: str, period: Period) -> Answer:
    """Events, ups and downs by capability and bucket over both periods."""
    since, until = (rfc3339(period.previous), rfc3339(period.end))
    text = f"count, up, down by capability, {period.unit.value} since {since} until {until}"
    # The server writes this query: its groups (capabilities × time buckets) are not capped.
    return run_query(connection, parse_query(text), project, seconds=10, max_groups=None)


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def tallies(answer: Answer) -> dict[str, dict[float, Tally]]:
    """capability → bucket start (epoch seconds) → tally."""
    found: dict[str, dict[float, Tally]] = {}
    for capability, bucket, count, up, down in answer.rows:
        name = "(none)" if capability is None else str(capability)
        found.setdefault(name, {})[_seconds(bucket)] = Tally(count, up, down)
    return found


def capability_rows(found: dict[str, dict[float, Tally]], this: float) -> list[CapabilityRow]:
    """Capabilities active in this period, busiest first, with the previous satisfaction."""
    rows = []
    for name, buckets in found.items():
        now = sum((t for at, t in buckets.items() if at >= this), Tally())
        before = sum((t for at, t in buckets.items() if at < this), Tally())
        if now.count:
            rows.append(CapabilityRow(name, now.count, now.up, now.down, now.satisfaction,
                                      before.satisfaction))  # fmt: skip
    return sorted(rows, key=lambda r: (-r.count, r.capability))


def movers(rows: list[CapabilityRow], limit: int = 5) -> list[CapabilityRow]:
    """The capabilities whose satisfaction changed most, either way."""
    changed = [r for r in rows if r.change is not None and r.change != 0]
    return sorted(changed, key=lambda r: -abs(r.change or 0.0))[:limit]


def trend(
    found: dict[str, dict[float, Tally]], x: list[float], satisfaction: bool, step: float
) -> Chart:
    """One line per capability over this period's buckets; a point opens its events."""
    series: list[tuple[str, list[float | None]]] = []
    for name in sorted(found):
        tally = [found[name].get(at, Tally()) for at in x]
        values = [t.satisfaction if satisfaction else float(t.count) for t in tally]
        series.append((name, values))
    drill = {"href": "/feedback", "param": "capability", "step": step}
    if satisfaction:
        return Chart("satisfaction-chart", "Satisfaction by capability", "line", x, series, True,
                     drill=drill)  # fmt: skip
    return Chart("volume-chart", "Feedback events by capability", "line", x, series, drill=drill)


def overview_page(answer: Answer, period: Period, picker: RangePicker) -> OverviewPage:
    """The page's context from the answer."""
    step = period.step
    x = [(period.start + step * i).timestamp() for i in range(period.buckets)]
    found = tallies(answer)
    rows = capability_rows(found, period.start.timestamp())
    active = {r.capability: found[r.capability] for r in rows}
    seconds = step.total_seconds()
    return OverviewPage(
        range=picker.described, ranges=PRESETS, rows=rows, movers=movers(rows),
        satisfaction_chart=trend(active, x, True, seconds),
        volume_chart=trend(active, x, False, seconds),
        total=sum(r.count for r in rows), picker=picker,
        since=rfc3339(period.start), until=rfc3339(period.end) if picker.until else "",
        bucket=period.unit.value,
    )  # fmt: skip


@get("/", include_in_schema=False)
async def overview(request: Request[Any, Any, Any]) -> Response[str]:
    """The overview page; `since`/`until` choose the range (`range=7d` is still understood)."""
    since = started()
    state, session = signed_in(request)
    params = query_params(request)
    chosen_since = params.get("since") or params.get("range") or DEFAULT_SINCE
    chosen_until = params.get("until", "")
    now = datetime.now(UTC)
    error = ""
    try:
        period = period_of(chosen_since, chosen_until, now)
    except QueryError as problem:
        error = f"That range was not understood ({problem.message}); showing the last 7 days."
        chosen_since, chosen_until = DEFAULT_SINCE, ""
        period = period_of(chosen_since, chosen_until, now)

    async def compute() -> Answer:
        return await state.read(overview_answer, session.project, period)

    key = ("overview", id(state), session.project, chosen_since, chosen_until)
    answer = await cached(key, OVERVIEW_SECONDS, compute)
    shown = picker("/", {}, chosen_since, chosen_until)
    context = overview_page(answer, period, shown)
    if error:
        context = replace(context, error=error)
    return page("overview.html", since, chrome(session, "Overview", "overview"), context)
