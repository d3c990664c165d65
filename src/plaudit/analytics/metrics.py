"""Metric values computed in Python: the nearest-rank percentile and the per-span reduction.

Nearest rank (the one percentile definition of both stores, docs/query.md): of n values sorted
ascending, the p-th percentile is the value at 1-based rank ceil(p·n/100), i.e. the smallest
value with at least p % of the values at or below it. `median` is p50. The answer is always one
of the values, so SQLite and PostgreSQL cannot differ by rounding.
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from plaudit.core.query.model import NUMERIC, PERCENTILES, Metric, MetricFn
from plaudit.core.query.values import GroupKey, value_order


def nearest_rank(sorted_values: Sequence[float], percent: int) -> float | None:
    """The nearest-rank percentile of ascending values (None for no values)."""
    if not sorted_values:
        return None
    rank = max(1, (percent * len(sorted_values) + 99) // 100)
    return sorted_values[rank - 1]


def mean(values: Sequence[float]) -> float | None:
    """Correctly rounded mean (fsum), so the order values arrive in cannot change it."""
    return math.fsum(values) / len(values) if values else None


def sorted_distribution(counts: dict[GroupKey, float]) -> list[dict[str, Any]]:
    """A distribution as the API shows it: [{value, count}], values in a stable total order.

    `counts` is keyed by one-value `GroupKey`s, so `true` and `1` are counted apart.
    """
    ordered = sorted(counts, key=lambda k: value_order(k[0]))
    return [{"value": key[0], "count": counts[key]} for key in ordered]


@dataclass
class SpanReduction:
    """One span's users' latest values (within one group)."""

    inputs: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    labels: dict[str, dict[GroupKey, int]] = field(default_factory=lambda: defaultdict(dict))

    def add_user(self, inputs: dict[str, Any], labels: dict[str, Any]) -> None:
        for name, value in inputs.items():
            if value is not None:
                self.inputs[name].append(float(value))
        for name, value in labels.items():
            if value is not None:
                key = GroupKey((value,))
                self.labels[name][key] = self.labels[name].get(key, 0) + 1

    def mean_of(self, name: str) -> float | None:
        return mean(self.inputs.get(name, []))


@dataclass
class SpanGroup:
    """The spans of one group, and the distinct texts among their users' latest events."""

    spans: dict[str, SpanReduction] = field(default_factory=dict)
    distinct: dict[str, set[Any]] = field(default_factory=lambda: defaultdict(set))


def per_span_values(
    group: SpanGroup, metrics: Iterable[Metric], input_of: dict[tuple[str, str], str]
) -> dict[str, Any]:
    """The metric values of one group when each span weighs one."""
    out: dict[str, Any] = {}
    reductions = list(group.spans.values())
    for metric in metrics:
        fn, name = metric.fn, metric.target.name
        if fn is MetricFn.COUNT:
            out[metric.label] = len(reductions)
        elif fn is MetricFn.COUNT_DISTINCT:
            out[metric.label] = len(group.distinct[input_of[("text", name)]])
        elif fn in NUMERIC or fn is MetricFn.PCT_TRUE:
            role = "boolean" if fn is MetricFn.PCT_TRUE else "number"
            means = sorted(
                m for r in reductions if (m := r.mean_of(input_of[(role, name)])) is not None
            )
            out[metric.label] = _numeric(fn, means)
        elif fn is MetricFn.DISTRIBUTION:
            out[metric.label] = _spread(reductions, name)
        else:
            thumbs = [
                m for r in reductions if (m := r.mean_of(input_of[("thumb", name)])) is not None
            ]
            up, down = sum(m > 0 for m in thumbs), sum(m < 0 for m in thumbs)
            out[metric.label] = {
                MetricFn.UP: up,
                MetricFn.DOWN: down,
                MetricFn.SATISFACTION: up / (up + down) if up + down else None,
            }[fn]
    return out


def _numeric(fn: MetricFn, ordered: list[float]) -> float | None:
    if not ordered:
        return None
    if fn in PERCENTILES:
        return nearest_rank(ordered, PERCENTILES[fn])
    if fn is MetricFn.SUM:
        return math.fsum(ordered)
    if fn is MetricFn.MIN:
        return ordered[0]
    if fn is MetricFn.MAX:
        return ordered[-1]
    return mean(ordered)


def _spread(reductions: list[SpanReduction], name: str) -> list[dict[str, Any]]:
    """Each span's weight of one, shared equally among its users' values."""
    shares: dict[GroupKey, list[float]] = defaultdict(list)
    for reduction in reductions:
        counts = reduction.labels.get(name, {})
        users = sum(counts.values())
        for value, count in counts.items():
            shares[value].append(count / users)
    return sorted_distribution({v: math.fsum(s) for v, s in shares.items()})
