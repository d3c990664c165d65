"""Access tokens: format, scopes, and what each kind of token may do."""

import hashlib
import secrets
from enum import StrEnum
from typing import Final

import msgspec


class Scope(StrEnum):
    """What a token may do."""

    FEEDBACK_WRITE = "feedback:write"
    TRACES_WRITE = "traces:write"
    READ = "read"
    ADMIN = "admin"


# An admin of this project administers the server: it lists and creates every project. It is the
# project the console password, development mode and the demo use (docs/api-conventions.md).
SERVER_PROJECT: Final = "default"
BROWSER_PREFIX: Final = "pk_"
SECRET_PREFIX: Final = "sk_"  # noqa: S105 - a prefix, not a secret


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: a token's project and scopes (or the development mode's stand-in)."""

    project: str
    scopes: frozenset[Scope]
    token_id: str | None
    origins: tuple[str, ...] | None = None

    @property
    def browser_safe(self) -> bool:
        """Only `feedback:write`: may create and revise end-user feedback, nothing else."""
        return self.scopes == {Scope.FEEDBACK_WRITE}

    @property
    def server_admin(self) -> bool:
        """An admin of the server-wide project: may see and create every project."""
        return Scope.ADMIN in self.scopes and self.project == SERVER_PROJECT

    def allows(self, scope: Scope) -> bool:
        """Whether this principal holds `scope` (admin holds every scope)."""
        return Scope.ADMIN in self.scopes or scope in self.scopes


def new_token(scopes: frozenset[Scope]) -> tuple[str, str]:
    """A new (token id, token secret); the secret is shown once and only its hash is kept."""
    token_id = secrets.token_hex(6)
    prefix = BROWSER_PREFIX if scopes == {Scope.FEEDBACK_WRITE} else SECRET_PREFIX
    return token_id, f"{prefix}{token_id}_{secrets.token_urlsafe(24)}"


def hash_token(secret: str) -> str:
    """The stored digest of a token; tokens are random, so a fast hash suffices."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like_token(value: str) -> bool:
    """A cheap shape check before any lookup."""
    return value.startswith((BROWSER_PREFIX, SECRET_PREFIX)) and 20 < len(value) < 200
