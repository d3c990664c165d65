"""CORS for browser clients: only origins the server or some token allows.

Per-token origins are enforced again in `auth.check_origin` once the token is known; this layer
answers preflights (which carry no token) and adds the response headers browsers need.
"""

from typing import Any, Final

import anyio.to_thread
from litestar.types import ASGIApp, Receive, Send

from plaudit.server.state import ServerState

_ALLOW_HEADERS: Final = b"authorization, content-type"
_ALLOW_METHODS: Final = b"GET, POST, PATCH, DELETE, OPTIONS"


class CorsMiddleware:
    """ASGI middleware; cheap for requests without an Origin header (server-to-server)."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def _allowed(self, origin: str) -> bool:
        settings = self.state.settings
        if settings.dev or origin in settings.cors_origins or "*" in settings.cors_origins:
            return True
        return origin in await anyio.to_thread.run_sync(self.state.tokens.token_origins)

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin_bytes = next((v for k, v in scope["headers"] if k == b"origin"), None)
        if origin_bytes is None:
            await self.app(scope, receive, send)
            return
        origin = origin_bytes.decode("latin-1")
        allowed = await self._allowed(origin)
        if scope["method"] == "OPTIONS":
            await self._preflight(send, origin_bytes, allowed)
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
