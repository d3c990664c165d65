"""Pass and fail: the one rule by which a score or users' feedback reads as a verdict.

Evaluations read one score with it; agreement reads a span's value on each side (the mean of
its users' latest values, or the evaluator's latest value). A thumb (+1/-1, or a mean of them)
passes above 0, more ups than downs; a bool (1/0, or a mean of them) passes above 0.5, more
trues than falses, so a single true passes; any other number — or a mean of several kinds —
passes at or above its name's `pass_threshold` (0.5 unless configured).
"""

from collections.abc import Collection

from plaudit.core.configs import DEFAULT_PASS_THRESHOLD, FeedbackConfig
from plaudit.core.feedback import Kind


def passes(value: float, kinds: Collection[str], threshold: float = DEFAULT_PASS_THRESHOLD) -> bool:
    """Whether `value` passes: one value, or the mean of values of the kinds `kinds`."""
    if kinds and all(kind == Kind.THUMB for kind in kinds):
        return value > 0
    if kinds and all(kind == Kind.BOOL for kind in kinds):
        return value > 0.5
    return value >= threshold


def score_passes(
    value: object, config: FeedbackConfig | None, kind: Kind | None = None
) -> bool | None:
    """Whether one score passes under `config` (its name's config, if any); `kind` is the kind
    it was given as, for names without a config (a thumb is a thumb either way). None when the
    value is neither a bool nor a number."""
    number = as_number(value)
    if number is None:
        return None
    threshold = config.threshold if config is not None else DEFAULT_PASS_THRESHOLD
    return passes(number, {read_as(value, config, kind)}, threshold)


def read_as(value: object, config: FeedbackConfig | None, kind: Kind | None) -> Kind:
    """The kind a single value is judged as: a bool is a bool; a number is a thumb when it was
    given as one or its name is configured as one, else a number."""
    if isinstance(value, bool):
        return Kind.BOOL
    if Kind.THUMB in (kind, config.kind if config is not None else None):
        return Kind.THUMB
    return Kind.NUMBER


def as_number(value: object) -> float | None:
    """A score as a number for means: a bool counts 1 or 0; None when it is neither."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return None
