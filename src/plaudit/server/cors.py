"""CORS for browser clients: only origins the server or some token allows.

Per-token origins are enforced again in `auth.check_origin` once the token is known; this layer
answers preflights (which carry no token) and adds the response headers browsers need.

In dev mode (no tokens, loopback only) any request acts as an admin, so this layer also keeps
other web sites out: only pages served from this machine (`http://localhost:*`,
`http://127.0.0.1:*`, `http://[::1]:*`) are allowed as origins, a request from any other origin is
refused (a "simple" cross-site request is sent without a preflight), and so is a request whose
Host is not a loopback name — which is what a DNS-rebinding page would send.
"""

import ipaddress
from typing import Any, Final
from urllib.parse import urlsplit

import anyio.to_thread
import msgspec
from litestar.types import ASGIApp, Receive, Send

from plaudit.errors import Forbidden
from plaudit.server.problems import PROBLEM_JSON, problem_body
from plaudit.server.state import ServerState

_ALLOW_HEADERS: Final = b"authorization, content-type"
_ALLOW_METHODS: Final = b"GET, POST, PATCH, DELETE, OPTIONS"


def is_loopback_name(host: str | None) -> bool:
    """Whether a host name (no port) is this machine: `localhost` or a loopback address."""
    if not host:
        return False
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_loopback_origin(origin: str) -> bool:
    """Whether a browser origin is a page served from this machine over http(s)."""
    try:
        parts = urlsplit(origin)
        _ = parts.port  # a malformed port raises
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and is_loopback_name(parts.hostname)


def host_name(host_header: str) -> str:
    """The name part of a Host header (`[::1]:8000` → `[::1]`, `localhost:80` → `localhost`)."""
    if host_header.startswith("["):
        return host_header.partition("]")[0] + "]"
    return host_header.partition(":")[0]


def _header(scope: Any, name: bytes) -> bytes | None:
    return next((v for k, v in scope["headers"] if k == name), None)


class CorsMiddleware:
    """ASGI middleware; cheap for requests without an Origin header (server-to-server)."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def _allowed(self, origin: str) -> bool:
        settings = self.state.settings
        if settings.dev:
            return is_loopback_origin(origin)
        if origin in settings.cors_origins or "*" in settings.cors_origins:
            return True
        return origin in await anyio.to_thread.run_sync(self.state.tokens.token_origins)

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.state.settings.dev and (refusal := _dev_refusal(scope)):
            await _refuse(send, scope, refusal)
            return
        origin_bytes = _header(scope, b"origin")
        if origin_bytes is None:
            await self.app(scope, receive, send)
            return
        origin = origin_bytes.decode("latin-1")
        allowed = await self._allowed(origin)
        if scope["method"] == "OPTIONS":
            await self._preflight(send, origin_bytes, allowed)
            return
        if self.state.settings.dev and not allowed:
            await _refuse(send, scope, f"dev mode serves pages of this machine only, not {origin}")
            return

        async def send_with_cors(message: Any) -> None:
            if message["type"] == "http.response.start" and allowed:
                headers = list(message.get("headers", []))
                headers.append((b"access-control-allow-origin", origin_bytes))
                headers.append((b"vary", b"Origin"))
                # Lets the browser client read Retry-After on a 429 and back off as told.
                headers.append((b"access-control-expose-headers", b"retry-after"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, send: Any, origin: bytes, allowed: bool) -> None:
        headers = [(b"vary", b"Origin"), (b"content-length", b"0")]
        if allowed:
            headers += [
                (b"access-control-allow-origin", origin),
                (b"access-control-allow-methods", _ALLOW_METHODS),
                (b"access-control-allow-headers", _ALLOW_HEADERS),
                (b"access-control-max-age", b"600"),
            ]
        await send(
            {"type": "http.response.start", "status": 204 if allowed else 403, "headers": headers}
        )
        await send({"type": "http.response.body", "body": b""})


def _dev_refusal(scope: Any) -> str | None:
    """Why dev mode refuses this request's Host (None: it names this machine, or is absent)."""
    host = _header(scope, b"host")
    if host is None:
        return None
    name = host_name(host.decode("latin-1"))
    if is_loopback_name(name):
        return None
    return f"dev mode answers to this machine's names only (localhost, 127.0.0.1), not {name!r}"


async def _refuse(send: Any, scope: Any, detail: str) -> None:
    """A 403 problem, sent before the app sees the request."""
    body = msgspec.json.encode(problem_body(Forbidden(detail), scope.get("path")))
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})
