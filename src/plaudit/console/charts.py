"""Query answers shaped for uPlot: time on x gives lines, anything else gives bars."""

from datetime import datetime
from itertools import pairwise
from typing import Any

from plaudit.analytics.run import Answer
from plaudit.console.pages import Chart

_NUMERIC = ("integer", "number", "json")


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def pivot_time(answer: Answer, metric: str, chart_id: str, label: str, percent: bool) -> Chart:
    """One line per value of the first group, over the time bucket column."""
    names = [c.name for c in answer.columns]
    time_at = next(i for i, c in enumerate(answer.columns) if c.type == "time")
    group_at = next((i for i, c in enumerate(answer.columns[:time_at]) if c.type != "time"), None)
    value_at = names.index(metric)
    times = sorted({row[time_at] for row in answer.rows if row[time_at] is not None})
    position = {t: i for i, t in enumerate(times)}
    series: dict[str, list[float | None]] = {}
    for row in answer.rows:
        if row[time_at] is None:
            continue
        key = str(row[group_at]) if group_at is not None else metric
        values = series.setdefault(key, [None] * len(times))
        values[position[row[time_at]]] = _number(row[value_at])
    x = [_seconds(t) for t in times]
    by_capability = group_at is not None and names[group_at] == "capability"
    steps = [b - a for a, b in pairwise(x)]
    # A point opens the explorer on its capability and bucket (the bucket read off the spacing).
    drill = (
        {"href": "/feedback", "param": "capability", "step": min(steps)}
        if by_capability and steps
        else None
    )
    return Chart(
        id=chart_id,
        label=label,
        kind="line",
        x=x,
        series=sorted(series.items()),
        percent=percent,
        drill=drill,
    )


def chart_for(answer: Answer) -> Chart | None:
    """The chart of a query page's answer, or None when it has nothing to draw."""
    metrics = [c for c in answer.columns if c.type in ("integer", "number")]
    if not metrics or not answer.rows:
        return None
    times = [c for c in answer.columns if c.type == "time"]
    first = metrics[0].name
    percent = first in ("satisfaction", "pct_true")
    if times:
        return pivot_time(answer, first, "query-chart", f"{first} over time", percent)
    groups = [i for i, c in enumerate(answer.columns) if c.type not in ("integer", "number")]
    groups = [i for i in groups if answer.columns[i].type != "distribution"]
    names = [c.name for c in answer.columns]
    categories = [
        " · ".join("∅" if row[i] is None else str(row[i]) for i in groups) or "all"
        for row in answer.rows
    ]
    series = [(m.name, [_number(row[names.index(m.name)]) for row in answer.rows]) for m in metrics]
    by_capability = [names[i] for i in groups] == ["capability"]
    return Chart(
        id="query-chart",
        label=f"{first} by {', '.join(names[i] for i in groups) or 'all'}",
        kind="bars",
        x=list(range(len(categories))),
        series=series[:1],
        percent=percent,
        categories=categories,
        drill={"href": "/feedback", "param": "capability", "step": 0} if by_capability else None,
    )


def chart_json(chart: Chart) -> dict[str, Any]:
    """What console.js reads from the page to draw `chart`."""
    return {
        "kind": chart.kind,
        "label": chart.label,
        "x": chart.x,
        "series": [{"name": name, "values": values} for name, values in chart.series],
        "percent": chart.percent,
        "categories": chart.categories,
        "drill": chart.drill,
    }
