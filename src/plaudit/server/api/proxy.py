"""`/proxy/{upstream}/{path}`: the OpenAI-compatible proxy, mounted as a plain ASGI app.

Mounted rather than routed so that the answer's bytes and headers pass untouched and the body is
relayed as it comes (see `plaudit.proxy.forward`); the app is made per server on first use.
"""

from typing import Any

from litestar import Litestar, asgi
from litestar.types import Receive, Scope, Send

from plaudit.proxy.forward import Proxy


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
