"""Rate limits for tokens that live in browsers (`pk_` and per-span `pft_` tokens).

A browser token is public by nature: anyone can copy it out of a page. Two token buckets bound
what such a copy can do — one per token and one per client address — and a request over either
answers 429 with `Retry-After`. Secret tokens are not limited here: they belong to servers.

The client address is the TCP peer unless the operator names trusted proxies
(`PLAUDIT_TRUSTED_PROXIES`), whose `X-Forwarded-For` is then believed; IPv6 addresses are counted by
their /64 network (`address_bucket`).

Buckets live in memory, one process per database (see docs/configuration.md), and their number
is bounded: the least recently used are forgotten first, which at worst hands a forgotten caller
a full bucket again.
"""

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from plaudit.errors import TooManyRequests

MAX_BUCKETS: Final = 100_000
# One IPv6 subscriber usually holds a whole /64 and can pick any address in it at will; counting
# each address apart would hand every client 2^64 buckets.
IPV6_PREFIX: Final = 64


def address_bucket(address: str) -> str:
    """The rate-limit key of a client address: IPv4 as is, IPv6 by its /64 network.

    An IPv4-mapped IPv6 address counts as its IPv4 address; text that is no address is its own
    key (a Unix socket path, say).
    """
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)


@dataclass(frozen=True, slots=True)
class Rate:
    """`per_second` sustained, with bursts of up to `burst` requests; 0 turns the limit off."""

    per_second: float
    burst: int

    @property
    def enabled(self) -> bool:
        """Whether this rate limits anything."""
        return self.per_second > 0 and self.burst > 0


class Buckets:
    """Token buckets by key, least recently used forgotten beyond `max_buckets`."""

    def __init__(self, rate: Rate, max_buckets: int = MAX_BUCKETS) -> None:
        self.rate = rate
        self.max_buckets = max_buckets
        # key → (tokens left, monotonic time of the last refill)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """Spend one request for `key`: 0.0 if allowed, else the seconds until one is."""
        if not self.rate.enabled:
            return 0.0
        moment = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.rate.burst), moment))
            tokens = min(float(self.rate.burst), tokens + (moment - last) * self.rate.per_second)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate.per_second
            self._buckets[key] = (tokens - 1 if wait == 0 else tokens, moment)
            while len(self._buckets) > self.max_buckets:
                self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)


class RateLimits:
    """The per-token and per-address buckets of one server."""

    def __init__(self, per_token: Rate, per_address: Rate) -> None:
        self.tokens = Buckets(per_token)
        self.addresses = Buckets(per_address)

    def check(self, token_key: str, address: str | None) -> None:
        """Count one browser request; raise TooManyRequests if a limit is exceeded.

        The address is checked first so one address cycling through many tokens is still held.
        """
        if address is not None and (wait := self.addresses.take(address_bucket(address))):
            raise TooManyRequests(
                f"too many requests from {address}; retry in {math.ceil(wait)} s",
                retry_after=math.ceil(wait),
            )
        if wait := self.tokens.take(token_key):
            raise TooManyRequests(
                f"too many requests with this browser token; retry in {math.ceil(wait)} s",
                retry_after=math.ceil(wait),
            )
