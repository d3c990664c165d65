"""What a running server holds: settings, database engine, writer, and short-lived caches."""

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Final, Generic, TypeVar

import anyio.to_thread
import msgspec
from litestar import Request
from sqlalchemy import Engine, select

from plaudit.core.access import Principal, hash_token
from plaudit.core.configs import FeedbackConfig
from plaudit.core.feedback import FeedbackEvent
from plaudit.core.privacy import PiiMode, has_free_text
from plaudit.errors import Unavailable
from plaudit.server.rate_limits import Rate, RateLimits
from plaudit.server.session_cache import SessionCache
from plaudit.settings import Settings
from plaudit.store.database import ServerClaim
from plaudit.store.feedback import Status, StoreFeedback
from plaudit.store.projects import pii_mode
from plaudit.store.schema import feedback_configs, tokens
from plaudit.store.tokens import principal_for
from plaudit.store.writer import WriteOp, Writer, WriterBusy, WriterUnavailable

JSON: Final = "application/json"

# Cached lookups expire quickly so a revocation or config change made elsewhere (e.g. by the CLI)
# takes effect within seconds; changes made through this server's API clear them at once.
CACHE_SECONDS: Final = 5.0
MAX_CACHED_PROJECTS: Final = 1_024


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


@dataclass(frozen=True, slots=True)
class ProjectRules:
    """What the write path needs to know of a project: its feedback configs and PII mode."""

    configs: Mapping[str, FeedbackConfig]
    pii: PiiMode


@dataclass
class ConfigCache:
    """Project → its rules, for the most recently used `MAX_CACHED_PROJECTS` projects.

    Bounded, because a caller can name any project: requests for another project than the
    token's are refused before they get here, but a development-mode server takes any name.
    """

    engine: Engine
    _entries: OrderedDict[str, _Entry[ProjectRules]] = field(default_factory=OrderedDict)

    def rules(self, project: str) -> ProjectRules:
        """The rules of `project` (blocking on a miss)."""
        entry = self._entries.get(project)
        now = time.monotonic()
        if entry is not None and entry.expires > now:
            self._entries.move_to_end(project)
            return entry.value
        with self.engine.connect() as connection:
            rows = connection.scalars(
                select(feedback_configs.c.config).where(feedback_configs.c.project == project)
            ).all()
            mode = pii_mode(connection, project)
        configs = {c.name: c for c in (msgspec.convert(row, FeedbackConfig) for row in rows)}
        rules = ProjectRules(configs, mode)
        self._entries[project] = _Entry(rules, now + CACHE_SECONDS)
        self._entries.move_to_end(project)
        while len(self._entries) > MAX_CACHED_PROJECTS:
            self._entries.popitem(last=False)
        return rules

    def load(self, project: str) -> Mapping[str, FeedbackConfig]:
        """The configs of `project` (blocking on a miss)."""
        return self.rules(project).configs

    def fresh(self, project: str) -> bool:
        """Whether `project`'s rules are cached and current."""
        entry = self._entries.get(project)
        return entry is not None and entry.expires > time.monotonic()

    def clear(self) -> None:
        """Forget everything (after a config or a PII mode changes here)."""
        self._entries.clear()


@dataclass
class ServerState:
    """The running server's parts, shared by every request."""

    settings: Settings
    engine: Engine
    writer: Writer
    tokens: TokenCache
    configs: ConfigCache
    claim: ServerClaim | None = None
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

    async def project_rules(self, project: str) -> ProjectRules:
        """The project's configs and PII mode, read in a worker thread when not cached."""
        if self.configs.fresh(project):
            return self.configs.rules(project)
        return await anyio.to_thread.run_sync(self.configs.rules, project)

    async def feedback_op(
        self,
        project: str,
        events: Sequence[FeedbackEvent],
        received_at: datetime,
        principal: Principal,
    ) -> StoreFeedback:
        """The write of `events`, their free text screened for PII off the event loop."""
        mode = (await self.project_rules(project)).pii
        make = partial(
            StoreFeedback, project, events, received_at, principal.token_id,
            pii=mode, browser=principal.browser_safe,
        )  # fmt: skip
        if mode is PiiMode.OFF or not any(has_free_text(event) for event in events):
            return make()
        return await anyio.to_thread.run_sync(make)

    async def store_feedback(
        self,
        project: str,
        events: Sequence[FeedbackEvent],
        received_at: datetime,
        principal: Principal,
    ) -> list[Status]:
        """Screen and durably store events; each one's status, in order (503 when busy)."""
        op = await self.feedback_op(project, events, received_at, principal)
        return await self.write(op)

    async def write(self, op: WriteOp[T]) -> T:
        """`op` through the writer; a full queue or a missed deadline is a 503 to retry."""
        try:
            return await self.writer.write(op)
        except WriterUnavailable as error:
            raise unavailable(error) from None


def unavailable(error: WriterUnavailable) -> Unavailable:
    """The 503 problem for a write the writer could not take or finish."""
    if isinstance(error, WriterBusy):
        return Unavailable(f"the server is catching up ({error}); retry shortly", retry_after=1)
    return Unavailable(f"the write was not stored: {error}; retry shortly", retry_after=5)


def state_of(request: Request[Any, Any, Any]) -> ServerState:
    """The server state of a request's app."""
    state: ServerState = request.app.state.plaudit
    return state
