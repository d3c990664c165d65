"""Who is calling, and may they: tokens, scopes, projects and browser origins."""

from typing import Any

import anyio.to_thread
from litestar import Request

from plaudit.core.access import Principal, Scope, looks_like_token
from plaudit.errors import Forbidden, Unauthorized
from plaudit.server.state import ServerState

DEV_PRINCIPAL = Principal(project="default", scopes=frozenset(Scope), token_id=None)


def bearer(request: Request[Any, Any, Any]) -> str | None:
    """The token of an `Authorization: Bearer` header, if any."""
    return bearer_token(request.headers.get("authorization"))


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization` value (an HTTP header or gRPC metadata), if any."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be `Bearer <token>`")
    return token.strip()


async def authenticate(
    request: Request[Any, Any, Any], state: ServerState, body_token: str | None = None
) -> Principal:
    """The caller's principal; the header token wins over one in the body (beacons)."""
    principal = await principal_of(state, bearer(request) or body_token)
    check_origin(request, principal, state)
    if principal.browser_safe:
        limit_browser(request, state, f"pk:{principal.token_id}")
    return principal


async def principal_of(state: ServerState, secret: str | None) -> Principal:
    """The principal of a token secret, whatever the transport that carried it."""
    if secret is None:
        if state.settings.dev:
            return DEV_PRINCIPAL
        raise Unauthorized(
            "send a token: `Authorization: Bearer <token>` (see `plaudit token create`)"
        )
    if not looks_like_token(secret):
        raise Unauthorized("that is not a Plaudit token (they start with pk_ or sk_)")
    hit, principal = state.tokens.cached(secret)
    if not hit:
        principal = await anyio.to_thread.run_sync(state.tokens.lookup, secret)
    if principal is None:
        raise Unauthorized("unknown or revoked token")
    return principal


def limit_browser(request: Request[Any, Any, Any], state: ServerState, token_key: str) -> None:
    """Count a request made with a browser token against its token's and its address's limits."""
    client = request.client
    state.rate_limits.check(token_key, client.host if client else None)


def require(principal: Principal, scope: Scope) -> None:
    """Raise unless the principal holds `scope`."""
    if not principal.allows(scope):
        kind = "a browser (pk_) token" if principal.browser_safe else "this token"
        raise Forbidden(f"{kind} lacks the `{scope.value}` scope")


def check_origin(request: Request[Any, Any, Any], principal: Principal, state: ServerState) -> None:
    """A browser request must come from an origin its token (or the server) allows."""
    origin = request.headers.get("origin")
    if origin is None or state.settings.dev:
        return
    allowed = principal.origins if principal.origins is not None else state.settings.cors_origins
    if origin not in allowed and "*" not in allowed:
        raise Forbidden(f"origin {origin} is not allowed for this token")
