"""Pass and fail: how a score or a feedback value reads as a verdict (evaluations, agreement).

A bool passes when true; a thumb (a name configured as `thumb`, or a mean of users' thumbs)
passes above 0; any other number passes at or above its name's `pass_threshold` (0.5 unless
configured). Anything else has no verdict.
"""

from plaudit.core.configs import DEFAULT_PASS_THRESHOLD, FeedbackConfig
from plaudit.core.feedback import Kind


def passes(value: object, config: FeedbackConfig | None, kind: Kind | None = None) -> bool | None:
    """Whether `value` passes under `config` (the name's config, if any); `kind` is the kind
    the value was stored as, for names without a config (a thumb is a thumb either way). None
    when the value is neither a bool nor a number."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, int | float):
        return None
    if Kind.THUMB in (kind, config.kind if config is not None else None):
        return value > 0
    threshold = DEFAULT_PASS_THRESHOLD
    if config is not None and config.pass_threshold is not None:
        threshold = config.pass_threshold
    return value >= threshold


def as_number(value: object) -> float | None:
    """A score as a number for means: a bool counts 1 or 0; None when it is neither."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return None
