"""Console sign-in throttling: failed guesses cost exponentially more waiting.

Two kinds of key are counted: the client address (an IPv6 address by its /64, which one host
usually owns whole) and the account tried (the console password, or the id part of a token). A
few failures are free, for typos; after them each failure blocks its keys for twice as long as the
one before, up to `MAX_DELAY`. An attempt on any blocked key is refused without checking the
secret, so neither a single address trying many accounts nor many addresses trying one account
gets far. A success clears its account; a key forgets its failures after `FORGET_AFTER` without
one.

The counts live in this process's memory and are bounded (`MAX_KEYS`, least recently used
forgotten first, but never the password's own record): behind several processes each counts its
own failures.
"""

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from plaudit.core.access import looks_like_token

FREE_FAILURES: Final = 5
FIRST_DELAY: Final = 1.0
MAX_DELAY: Final = 15 * 60.0
FORGET_AFTER: Final = 60 * 60.0
MAX_KEYS: Final = 10_000
SHARED_ACCOUNT: Final = "account:console"  # every guess that is not token-shaped


@dataclass(slots=True)
class _Failures:
    count: int
    blocked_until: float
    last: float


def address_key(host: str | None) -> str:
    """The key of a client address: IPv4 as is, IPv6 by its /64 network."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return f"address:{host}"
    if address.version == 6:
        return f"address:{ipaddress.ip_network(f'{address}/64', strict=False)}"
    return f"address:{address}"


def account_key(secret: str) -> str:
    """The key of the account a secret tries: the token's id part, or the console password."""
    if looks_like_token(secret):
        return "account:token:" + secret.split("_")[1][:32]
    return SHARED_ACCOUNT


def backoff(failures: int) -> float:
    """Seconds blocked after `failures` failures in a row."""
    if failures <= FREE_FAILURES:
        return 0.0
    return min(MAX_DELAY, FIRST_DELAY * 2.0 ** min(failures - FREE_FAILURES - 1, 30))


class SignInThrottle:
    """Failed sign-ins by key; see the module docstring."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._records: OrderedDict[str, _Failures] = OrderedDict()

    def retry_after(self, keys: Iterable[str]) -> int:
        """Whole seconds until every key in `keys` may try again (0: now)."""
        now = self._clock()
        waits = [record.blocked_until - now for key in keys if (record := self._live(key, now))]
        return math.ceil(max([0.0, *waits]))

    def failed(self, keys: Iterable[str]) -> None:
        """Count a failed attempt against each key."""
        now = self._clock()
        for key in keys:
            record = self._live(key, now) or self._add(key, now)
            record.count += 1
            record.last = now
            record.blocked_until = now + backoff(record.count)

    def succeeded(self, account: str) -> None:
        """The right secret: its account starts afresh (its address does not)."""
        self._records.pop(account, None)

    def _live(self, key: str, now: float) -> _Failures | None:
        record = self._records.get(key)
        if record is None:
            return None
        if now - record.last > FORGET_AFTER:
            del self._records[key]
            return None
        self._records.move_to_end(key)
        return record

    def _add(self, key: str, now: float) -> _Failures:
        while len(self._records) >= MAX_KEYS:
            oldest = next(iter(self._records))
            if oldest == SHARED_ACCOUNT:
                self._records.move_to_end(oldest)
                oldest = next(iter(self._records))
            del self._records[oldest]
        record = _Failures(0, now, now)
        self._records[key] = record
        return record
