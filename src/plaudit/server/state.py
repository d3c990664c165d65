"""What a running server holds: settings, database engine, writer, and short-lived caches."""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

import anyio.to_thread
import msgspec
from litestar import Request
from sqlalchemy import Engine, select

from plaudit.core.access import Principal, hash_token
from plaudit.core.configs import FeedbackConfig
from plaudit.server.rate_limits import Rate, RateLimits
from plaudit.server.session_cache import SessionCache
from plaudit.settings import Settings
from plaudit.store.schema import feedback_configs, tokens
from plaudit.store.tokens import principal_for
from plaudit.store.writer import Writer

JSON: Final = "application/json"

# Cached lookups expire quickly so a revocation or config change made elsewhere (e.g. by the CLI)
# takes effect within seconds; changes made through this server's API clear them at once.
CACHE_SECONDS: Final = 5.0


T = TypeVar("T")


@dataclass(slots=True)
class _Entry(Generic[T]):
    value: T
    expires: float


@dataclass
class TokenCache:
    """Token secret hash → principal (or None for unknown/revoked)."""

    engine: Engine
    _entries: dict[str, _Entry[Principal | None]] = field(default_factory=dict)
    _origins: _Entry[frozenset[str]] | None = None

    def lookup(self, secret: str) -> Principal | None:
        """The principal of a token secret (blocking: call from a worker thread on a miss)."""
        key = hash_token(secret)
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry is not None and entry.expires > now:
            return entry.value
        with self.engine.connect() as connection:
            principal = principal_for(connection, secret)
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[key] = _Entry(principal, now + CACHE_SECONDS)
        return principal

    def cached(self, secret: str) -> tuple[bool, Principal | None]:
        """(hit, principal) without touching the database."""
        entry = self._entries.get(hash_token(secret))
        if entry is not None and entry.expires > time.monotonic():
            return True, entry.value
        return False, None

    def token_origins(self) -> frozenset[str]:
        """Every origin any live token allows (blocking on a miss)."""
        now = time.monotonic()
        if self._origins is not None and self._origins.expires > now:
            return self._origins.value
        with self.engine.connect() as connection:
            rows = connection.scalars(
                select(tokens.c.origins).where(tokens.c.revoked_at.is_(None))
            ).all()
        origins = frozenset(o for row in rows if row for o in row)
        self._origins = _Entry(origins, now + CACHE_SECONDS)
        return origins

    def clear(self) -> None:
        """Forget everything (after a token is created or revoked here)."""
        self._entries.clear()
        self._origins = None


@dataclass
class ConfigCache:
    """Project → its feedback configs by name."""

    engine: Engine
    _entries: dict[str, _Entry[Mapping[str, FeedbackConfig]]] = field(default_factory=dict)

    def load(self, project: str) -> Mapping[str, FeedbackConfig]:
        """The configs of `project` (blocking on a miss)."""
        entry = self._entries.get(project)
        now = time.monotonic()
        if entry is not None and entry.expires > now:
            return entry.value
        with self.engine.connect() as connection:
            rows = connection.scalars(
                select(feedback_configs.c.config).where(feedback_configs.c.project == project)
            ).all()
        configs = {c.name: c for c in (msgspec.convert(row, FeedbackConfig) for row in rows)}
        self._entries[project] = _Entry(configs, now + CACHE_SECONDS)
        return configs

    def fresh(self, project: str) -> bool:
        """Whether `project`'s configs are cached and current."""
        entry = self._entries.get(project)
        return entry is not None and entry.expires > time.monotonic()

    def clear(self) -> None:
        """Forget everything (after a config changes here)."""
        self._entries.clear()


@dataclass
class ServerState:
    """The running server's parts, shared by every request."""

    settings: Settings
    engine: Engine
    writer: Writer
    tokens: TokenCache
    configs: ConfigCache
    started: float = field(default_factory=time.monotonic)
    console_sessions: SessionCache = field(default_factory=SessionCache)
    rate_limits: RateLimits = field(init=False)

    def __post_init__(self) -> None:
        settings = self.settings
        self.rate_limits = RateLimits(
            Rate(settings.rate_limit_token_per_second, settings.rate_limit_token_burst),
            Rate(settings.rate_limit_ip_per_second, settings.rate_limit_ip_burst),
        )

    async def read(self, query: Callable[..., T], *args: Any) -> T:
        """`query(connection, *args)` on a pooled connection, in a worker thread."""

        def run() -> T:
            with self.engine.connect() as connection:
                return query(connection, *args)

        return await anyio.to_thread.run_sync(run)


def state_of(request: Request[Any, Any, Any]) -> ServerState:
    """The server state of a request's app."""
    state: ServerState = request.app.state.plaudit
    return state
