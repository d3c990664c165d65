"""The ASGI application: routes, error shape, lifespan of the database and the writer."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.params import FromPath
from litestar.types import ASGIApp
from sqlalchemy.exc import OperationalError

from plaudit import __version__
from plaudit.console import console_routes
from plaudit.errors import PlauditError, Unavailable
from plaudit.server.api import (
    admin,
    feedback,
    feedback_tokens,
    health,
    proxy,
    query,
    sdk_assets,
    traces,
)
from plaudit.server.cors import CorsMiddleware
from plaudit.server.problems import (
    handle_http_exception,
    handle_plaudit_error,
    handle_unexpected,
    problem_response,
)
from plaudit.server.state import ConfigCache, ServerState, TokenCache
from plaudit.settings import Settings
from plaudit.store.database import create_database_engine
from plaudit.store.migrate import upgrade
from plaudit.store.spans import LinkAllPending
from plaudit.store.writer import Writer

log = logging.getLogger(__name__)

ROUTES = [
    feedback.post_feedback,
    feedback.list_feedback_events,
    feedback.get_feedback_event,
    feedback.delete_feedback_event,
    feedback_tokens.post_feedback_token,
    query.post_query,
    query.search_traces_route,
    traces.post_traces,
    traces.get_trace_tree,
    traces.patch_trace,
    traces.patch_span,
    admin.get_projects,
    admin.post_project,
    admin.patch_project,
    admin.get_tokens,
    admin.post_token,
    admin.delete_token,
    admin.get_configs,
    admin.put_feedback_config,
    admin.delete_feedback_config,
    health.healthz,
    health.readyz,
    health.metrics,
    sdk_assets.browser_client,
    proxy.proxy_mount,
]


@get("/problems/{slug:str}", include_in_schema=False)
async def problem_type(slug: FromPath[str]) -> dict[str, str]:
    """Problem `type` URIs resolve to a short description."""
    return {"type": f"/problems/{slug}", "see": "/docs and docs/api.md#errors"}


@get("/openapi.json", include_in_schema=False)
async def openapi_json(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """The OpenAPI 3.1 document at the path DESIGN §3 names."""
    from plaudit.server.openapi import complete

    return Response(complete(request.app.openapi_schema.to_schema()))


def database_unavailable(
    request: Request[Any, Any, Any], error: OperationalError
) -> Response[bytes]:
    """A database that cannot be reached is a 503 to retry, not a server bug."""
    log.warning("database unavailable: %s", type(error.orig).__name__)
    problem = Unavailable("the database is unavailable; retry shortly", retry_after=5)
    return problem_response(problem, request.url.path)


def open_state(settings: Settings) -> ServerState:
    """Migrate the database, start the writer, link feedback that waited across a restart."""
    engine = create_database_engine(settings.database_url)
    upgrade(engine)
    writer = Writer(engine)
    writer.start()
    linked = writer.write_sync(LinkAllPending())
    if linked:
        log.info("linked %d waiting feedback events to spans stored before this start", linked)
    return ServerState(settings, engine, writer, TokenCache(engine), ConfigCache(engine))


def close_state(state: ServerState) -> None:
    """Commit what is queued, then release the database."""
    state.writer.stop()
    state.engine.dispose()


def create_app(settings: Settings) -> Litestar:
    """The Plaudit server for `settings`."""
    state_box: dict[str, ServerState] = {}

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        state = open_state(settings)
        app.state.plaudit = state
        state_box["state"] = state
        try:
            yield
        finally:
            await proxy.close_proxy(app)
            close_state(state)

    def cors(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Any, receive: Any, send: Any) -> None:
            await CorsMiddleware(app, state_box["state"])(scope, receive, send)

        return middleware

    return Litestar(
        route_handlers=[*ROUTES, problem_type, openapi_json, *console_routes()],
        lifespan=[lifespan],
        middleware=[cors],
        exception_handlers={
            PlauditError: handle_plaudit_error,
            HTTPException: handle_http_exception,
            OperationalError: database_unavailable,
            Exception: handle_unexpected,
        },
        openapi_config=OpenAPIConfig(
            title="Plaudit",
            version=__version__,
            description="End-user feedback on AI responses, linked to OpenTelemetry traces.",
            path="/docs",
            render_plugins=[ScalarRenderPlugin()],
        ),
        request_max_body_size=64 * 1024 * 1024,
        debug=False,
        logging_config=None,
    )
