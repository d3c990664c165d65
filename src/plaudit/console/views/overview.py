"""`/`: volume and satisfaction per capability, their trends, and who moved most.

One aggregate query of the query model answers the whole page: `count, up, down by capability,
<bucket>` over two periods of whole buckets (this one, including the bucket in progress, and the
one before). The table, the movers and both trend charts are sums of its rows, so the database
reads the period's events once. Satisfaction is up / (up + down), exactly as the query model
defines it. The answer is kept for OVERVIEW_SECONDS per project and range.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from litestar import Request, Response, get
from sqlalchemy import Connection

from plaudit.analytics.run import Answer, run_query
from plaudit.console.cache import cached
from plaudit.console.pages import CapabilityRow, Chart, OverviewPage
from plaudit.console.render import page, started
from plaudit.console.views.common import chrome, signed_in
from plaudit.core.query.text import parse_query
from plaudit.core.times import rfc3339

# range → (bucket, buckets in the period)
RANGES: Final = {"24h": ("hour", 24), "7d": ("day", 7), "14d": ("day", 14), "30d": ("day", 30)}
DEFAULT_RANGE: Final = "7d"
OVERVIEW_SECONDS: Final = 30.0
_STEP: Final = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


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


def period_start(period: str, now: datetime) -> tuple[datetime, datetime]:
    """(start of the previous period, start of this one), on bucket boundaries."""
    unit, buckets = RANGES[period]
    current = now.replace(minute=0, second=0, microsecond=0)
    if unit == "day":
        current = current.replace(hour=0)
    this = current - _STEP[unit] * (buckets - 1)
    return this - _STEP[unit] * buckets, this


def overview_answer(connection: Connection, project: str, period: str) -> Answer:
    """Events, ups and downs by capability and bucket over both periods."""
    unit, _ = RANGES[period]
    before, _ = period_start(period, datetime.now(UTC))
    since = rfc3339(before)
    text = f"count, up, down by capability, {unit} since {since}"
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


def trend(found: dict[str, dict[float, Tally]], x: list[float], satisfaction: bool) -> Chart:
    """One line per capability over this period's buckets."""
    series: list[tuple[str, list[float | None]]] = []
    for name in sorted(found):
        tally = [found[name].get(at, Tally()) for at in x]
        values = [t.satisfaction if satisfaction else float(t.count) for t in tally]
        series.append((name, values))
    if satisfaction:
        return Chart("satisfaction-chart", "Satisfaction by capability", "line", x, series, True)
    return Chart("volume-chart", "Feedback events by capability", "line", x, series)


def overview_page(answer: Answer, period: str, now: datetime) -> OverviewPage:
    """The page's context from the answer."""
    unit, buckets = RANGES[period]
    _, this = period_start(period, now)
    x = [(this + _STEP[unit] * i).timestamp() for i in range(buckets)]
    found = tallies(answer)
    rows = capability_rows(found, this.timestamp())
    active = {r.capability: found[r.capability] for r in rows}
    return OverviewPage(
        range=period, ranges=tuple(RANGES), rows=rows, movers=movers(rows),
        satisfaction_chart=trend(active, x, True), volume_chart=trend(active, x, False),
        total=sum(r.count for r in rows),
    )  # fmt: skip


@get("/", include_in_schema=False)
async def overview(request: Request[Any, Any, Any]) -> Response[str]:
    """The overview page."""
    since = started()
    state, session = signed_in(request)
    period = request.query_params.get("range", DEFAULT_RANGE)
    if period not in RANGES:
        period = DEFAULT_RANGE

    async def compute() -> Answer:
        return await state.read(overview_answer, session.project, period)

    key = ("overview", id(state), session.project, period)
    answer = await cached(key, OVERVIEW_SECONDS, compute)
    context = overview_page(answer, period, datetime.now(UTC))
    return page("overview.html", since, chrome(session, "Overview", "overview"), context)
