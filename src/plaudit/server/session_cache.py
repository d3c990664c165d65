"""Whether a console session is live, remembered for a few seconds.

Every signed-in console request re-checks its session (not signed out, not expired, its token not
revoked). The answer is cached briefly so a page's requests cost one lookup; signing out or
revoking a token on this process forgets the answers at once, and other processes see the change
when their answers expire.
"""

import time
from dataclasses import dataclass, field
from typing import Final

SESSION_CHECK_SECONDS: Final = 5.0
MAX_SESSIONS: Final = 10_000


@dataclass
class SessionCache:
    """Session id → (live, until when) for the sessions seen lately."""

    _entries: dict[str, tuple[bool, float]] = field(default_factory=dict)

    def get(self, sid: str) -> bool | None:
        """The cached answer for `sid`, or None when unknown or stale."""
        entry = self._entries.get(sid)
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    def put(self, sid: str, live: bool) -> None:
        """Remember an answer; the cache is bounded, and simply emptied when full."""
        if len(self._entries) >= MAX_SESSIONS:
            self._entries.clear()
        self._entries[sid] = (live, time.monotonic() + SESSION_CHECK_SECONDS)

    def forget(self, sid: str) -> None:
        """Drop the answer for one session (after it signs out here)."""
        self._entries.pop(sid, None)

    def clear(self) -> None:
        """Drop every answer (after a token is revoked here)."""
        self._entries.clear()
