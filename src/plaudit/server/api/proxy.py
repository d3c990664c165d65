"""`/proxy/{upstream}/{path}`: the OpenAI-compatible proxy, a plain ASGI app.

A plain ASGI app rather than a route so that the answer's bytes and headers pass untouched and
the body is relayed as it comes (see `plaudit.proxy.forward`); the app is made per server on
first use. `ProxyFirst` hands `/proxy/…` requests to it ahead of the framework's routing and
middleware, behind CORS only: those layers took about a fifth of the event loop's time per
proxied call (docs/performance-proxy.md), and the proxy answers its own errors. The mount
below stays for the API reference and for a bare `/proxy`.

The ingest routes go the same way: `ProxyFirst.ahead` maps an exact method and path (`POST
/v1/feedback`, `POST /v1/traces`) to an ASGI app that runs the route's handler itself (see
`plaudit.server.app.ahead_of_routing`); the routes stay registered for the API reference.
"""

from typing import Any, Final

from litestar import Litestar, asgi
from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    LifeSpanReceive,
    LifeSpanScope,
    LifeSpanSend,
    Receive,
    Scope,
    Send,
)

from plaudit.proxy.forward import Proxy
from plaudit.server.cors import CorsMiddleware

PREFIX: Final = "/proxy/"


def proxy_of(app: Litestar) -> Proxy:
    """The app's proxy, made on first use (inside the server's event loop)."""
    proxy: Proxy | None = getattr(app.state, "plaudit_proxy", None)
    if proxy is None:
        proxy = Proxy(app.state.plaudit)
        app.state.plaudit_proxy = proxy
    return proxy


async def close_proxy(app: Litestar) -> None:
    """Close the proxy's upstream connections, if it was used."""
    proxy: Proxy | None = getattr(app.state, "plaudit_proxy", None)
    if proxy is not None:
        await proxy.aclose()


@asgi("/proxy", is_mount=True, copy_scope=True)
async def proxy_mount(scope: Scope, receive: Receive, send: Send) -> None:
    """Forward a call to a configured upstream (docs/proxy.md)."""
    app: Any = scope["app"]
    await proxy_of(app)(scope, receive, send)  # type: ignore[arg-type]


class ProxyFirst(Litestar):
    """The server's app: `/proxy/…` goes to the proxy (behind CORS), the routes in `ahead` to
    their own apps, the rest to Litestar."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ahead: dict[tuple[str, str], ASGIApp] = {}  # (method, path) → app; see create_app

    async def __call__(
        self,
        scope: Scope | LifeSpanScope,
        receive: Receive | LifeSpanReceive,
        send: Send | LifeSpanSend,
    ) -> None:
        http: Any = scope  # an HTTP scope once its type says so (mypy cannot narrow the union)
        if scope["type"] == ScopeType.HTTP and http["path"].startswith(PREFIX):
            cors = CorsMiddleware(proxy_of(self), self.state.plaudit)  # type: ignore[arg-type]
            await cors(http, receive, send)  # type: ignore[arg-type]
            return
        if scope["type"] == ScopeType.HTTP and (
            fast := self.ahead.get((http["method"], http["path"]))
        ):
            http["app"] = http["litestar_app"] = self  # as the framework sets them
            http.setdefault("state", {})
            await fast(http, receive, send)  # type: ignore[arg-type]  # answers CORS and errors
            return
        await super().__call__(scope, receive, send)
