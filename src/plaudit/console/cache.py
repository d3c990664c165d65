"""A small time-limited cache for console reads that are costly and may be a little stale.

The overview's aggregates and the explorer's capability list change slowly compared with how
often the pages are opened; keeping them for seconds spares the database a scan per page view.
Entries are per server state and project, so tests and projects never share one.
"""

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Final, TypeVar

T = TypeVar("T")

MAX_ENTRIES: Final = 1_000
_entries: dict[Hashable, tuple[float, Any]] = {}


async def cached(key: Hashable, seconds: float, compute: Callable[[], Awaitable[T]]) -> T:
    """The value under `key` if younger than `seconds`, else `compute()`'s, kept."""
    now = time.monotonic()
    hit = _entries.get(key)
    if hit is not None and hit[0] > now:
        value: T = hit[1]
        return value
    fresh = await compute()
    if len(_entries) >= MAX_ENTRIES:
        _entries.clear()
    _entries[key] = (now + seconds, fresh)
    return fresh
