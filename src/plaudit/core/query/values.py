"""Group and distribution values as Python keys: `true` and `1` are different groups.

Python holds `True == 1` (and `hash(True) == hash(1)`), so a JSON boolean and the number 1 would
fall into one dict entry. Every dict keyed by group values uses `GroupKey`, which compares and
hashes by `value_order` instead: booleans, numbers and strings never meet, while 1 and 1.0 still do.
"""

from typing import Any


def value_order(value: Any) -> tuple[int, Any]:
    """A total order over mixed group values: null, booleans, numbers, then text."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, int | float):
        return (2, value)
    return (3, str(value))


class GroupKey(tuple[Any, ...]):
    """The decoded values of a group (or one distribution value), as a dict key."""

    __slots__ = ()

    def _ordered(self) -> tuple[tuple[int, Any], ...]:
        return tuple(value_order(v) for v in self)

    def __hash__(self) -> int:
        return hash(self._ordered())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, tuple):
            return NotImplemented
        return self._ordered() == GroupKey(other)._ordered()

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal
