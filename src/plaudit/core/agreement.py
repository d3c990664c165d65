"""Agreement between what end users said about spans and what an automatic evaluator said.

Each span with both sides gives one `SpanPair`: the users' value (the mean of their latest
values, as `per span` reduces them), the evaluator's latest value, and whether each passes.
Both sides read as pass/fail by the one rule evaluations use too (`core.verdicts.passes`); the
evaluator's "pass" is the positive class, so `fp` is a span the evaluator passed and the users
failed.

Everything here is arithmetic on plain numbers, so it can be checked by hand.
"""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from plaudit.core.limits import MAX_NAME_CHARS
from plaudit.core.query.text import MAX_DURATION_DAYS, parse_time
from plaudit.core.validation import Issue

GROUPINGS: Final = ("capability",)
PARAMETERS: Final = ("user", "evaluator", "by", "since", "until")
_DURATION: Final = re.compile(r"(\d{1,9})([mhdw])")
_SECONDS: Final = {"m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


@dataclass(frozen=True, slots=True)
class AgreementRequest:
    """What to compare: a feedback name end users give, an evaluator's name, how to group,
    and the time range of the events (either end open)."""

    user: str
    evaluator: str
    by: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def parse_request(
    params: Sequence[tuple[str, str]], now: datetime
) -> AgreementRequest | list[Issue]:
    """The request that query parameters make, or every issue with them.

    `since`/`until` take an RFC 3339 time, a date, or a duration back from `now` (`7d`, `24h`,
    `30m`, `2w`). Unknown or repeated parameters are issues, never ignored.
    """
    issues: list[Issue] = []
    seen: dict[str, str] = {}
    for key, value in params:
        if key not in PARAMETERS:
            issues.append(Issue(f"/{key}", f"unknown parameter; known: {', '.join(PARAMETERS)}"))
        elif key in seen:
            issues.append(Issue(f"/{key}", "given more than once"))
        seen[key] = value
    names = {key: _name(key, seen.get(key), issues) for key in ("user", "evaluator")}
    by = seen.get("by") or None
    if by is not None and by not in GROUPINGS:
        issues.append(
            Issue("/by", f"cannot group by {by[:64]!r}; use one of: {', '.join(GROUPINGS)}")
        )
    window = {key: _moment(key, seen.get(key), now, issues) for key in ("since", "until")}
    if issues:
        return issues
    assert names["user"] is not None and names["evaluator"] is not None
    return AgreementRequest(names["user"], names["evaluator"], by, window["since"], window["until"])


def _name(key: str, value: str | None, issues: list[Issue]) -> str | None:
    if not value:
        issues.append(Issue(f"/{key}", "required: a feedback name"))
    elif len(value) > MAX_NAME_CHARS or "\x00" in value:
        issues.append(Issue(f"/{key}", f"a feedback name is 1–{MAX_NAME_CHARS} characters"))
    else:
        return value
    return None


def _moment(key: str, value: str | None, now: datetime, issues: list[Issue]) -> datetime | None:
    if not value:
        return None
    if (match := _DURATION.fullmatch(value)) is not None:
        seconds = int(match[1]) * _SECONDS[match[2]]
        if seconds <= MAX_DURATION_DAYS * 86_400:
            return now - timedelta(seconds=seconds)
    elif (moment := parse_time(value)) is not None:
        return moment
    issues.append(
        Issue(
            f"/{key}",
            "a time: a duration like 7d, 24h, 30m, 2w, or an RFC 3339 "
            f"time or date; durations reach back at most {MAX_DURATION_DAYS} days",
        )
    )
    return None


@dataclass(frozen=True, slots=True)
class SpanPair:
    """One span seen by both sides: raw values and their pass/fail readings."""

    user_value: float
    user_passes: bool
    evaluator_value: float
    evaluator_passes: bool


@dataclass(frozen=True, slots=True)
class Confusion:
    """Counts of spans, the evaluator's verdict against the users' (pass is positive)."""

    tp: int = 0  # both pass
    fp: int = 0  # the evaluator passes, the users fail
    fn: int = 0  # the evaluator fails, the users pass
    tn: int = 0  # both fail

    @property
    def n(self) -> int:
        """Spans counted."""
        return self.tp + self.fp + self.fn + self.tn

    def to_json(self) -> dict[str, int]:
        """The API's shape."""
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn}


@dataclass(frozen=True, slots=True)
class Figures:
    """The agreement figures of a set of spans."""

    n: int
    agreement: float | None
    kappa: float | None
    pearson: float | None
    confusion: Confusion

    def to_json(self) -> dict[str, Any]:
        """The API's shape, without the group key."""
        return {
            "n": self.n,
            "agreement": self.agreement,
            "kappa": self.kappa,
            "pearson": self.pearson,
            "confusion": self.confusion.to_json(),
        }


def confusion_of(pairs: Sequence[SpanPair]) -> Confusion:
    """The confusion matrix of `pairs`."""
    tp = sum(p.evaluator_passes and p.user_passes for p in pairs)
    fp = sum(p.evaluator_passes and not p.user_passes for p in pairs)
    fn = sum(not p.evaluator_passes and p.user_passes for p in pairs)
    return Confusion(tp, fp, fn, len(pairs) - tp - fp - fn)


def cohen_kappa(confusion: Confusion) -> float | None:
    """Cohen's κ: (observed − chance agreement) / (1 − chance agreement).

    Computed from integers (both terms scaled by n²) so the one division is the only rounding.
    None when chance agreement is 1: both sides gave every span the same one verdict, and κ is
    undefined (0/0).
    """
    c = confusion
    n = c.n
    observed = n * (c.tp + c.tn)
    chance = (c.tp + c.fp) * (c.tp + c.fn) + (c.fn + c.tn) * (c.fp + c.tn)
    if n * n == chance:
        return None
    return (observed - chance) / (n * n - chance)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's r of two equally long samples; None below 3 values or when a side is constant."""
    n = len(xs)
    if n < 3 or min(xs) == max(xs) or min(ys) == max(ys):
        return None
    mean_x, mean_y = math.fsum(xs) / n, math.fsum(ys) / n
    dx = [x - mean_x for x in xs]
    dy = [y - mean_y for y in ys]
    sxy = math.fsum(a * b for a, b in zip(dx, dy, strict=True))
    sxx = math.fsum(a * a for a in dx)
    syy = math.fsum(b * b for b in dy)
    if sxx == 0 or syy == 0:  # values so close their deviations vanish in floating point
        return None
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def figures_of(pairs: Sequence[SpanPair]) -> Figures:
    """Agreement, κ, Pearson's r and the confusion matrix of `pairs`."""
    confusion = confusion_of(pairs)
    n = confusion.n
    return Figures(
        n=n,
        agreement=(confusion.tp + confusion.tn) / n if n else None,
        kappa=cohen_kappa(confusion) if n else None,
        pearson=pearson([p.user_value for p in pairs], [p.evaluator_value for p in pairs]),
        confusion=confusion,
    )
