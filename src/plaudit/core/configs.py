"""Feedback configs: optional per-project declarations of a feedback name's kind and range."""

import math
from typing import Any, Final

import msgspec

from plaudit.core.feedback import Kind, ShortText

DEFAULT_PASS_THRESHOLD: Final = 0.5


class FeedbackConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """What a feedback name means in a project; names without one are accepted and inferred."""

    name: ShortText
    kind: Kind
    description: str = ""
    enum_values: list[ShortText] | None = None
    min: float | None = None
    max: float | None = None
    pass_threshold: float | None = None
    """A number at or above it passes (evaluations, agreement); None: the default 0.5."""

    def problem_with(self, value: Any) -> str | None:
        """Why `value` breaks this config, or None when it fits."""
        if (
            self.kind is Kind.ENUM
            and self.enum_values is not None
            and value not in self.enum_values
        ):
            allowed = ", ".join(repr(v) for v in self.enum_values)
            return f"{value!r} is not one of the values declared for {self.name!r}: {allowed}"
        if self.kind is Kind.NUMBER and isinstance(value, int | float):
            if self.min is not None and value < self.min:
                return f"{value} is below the minimum {self.min:g} declared for {self.name!r}"
            if self.max is not None and value > self.max:
                return f"{value} is above the maximum {self.max:g} declared for {self.name!r}"
        return None

    def problem_with_itself(self) -> str | None:
        """Why this config is inconsistent, or None."""
        for bound in (self.min, self.max):
            if bound is not None and not math.isfinite(bound):
                return "min and max must be finite numbers"
        if self.pass_threshold is not None and not math.isfinite(self.pass_threshold):
            return "pass_threshold must be a finite number"
        if self.pass_threshold is not None and self.kind is not Kind.NUMBER:
            return "pass_threshold only applies to kind 'number' (thumbs and bools pass by value)"
        if self.min is not None and self.max is not None and self.min > self.max:
            return "min must not be greater than max"
        if self.enum_values is not None and self.kind is not Kind.ENUM:
            return "enum_values only apply to kind 'enum'"
        return None

    @property
    def threshold(self) -> float:
        """The number at or above which a value of this name passes."""
        return DEFAULT_PASS_THRESHOLD if self.pass_threshold is None else self.pass_threshold
