"""The ASGI application: routes, error shape, lifespan of the database and the writer."""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Final

from litestar import Litestar, Request, Response, get
from litestar.enums import MediaType
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.params import FromPath
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send
from litestar.utils.helpers import get_enum_string_value
from sqlalchemy.exc import OperationalError

from plaudit import __version__
from plaudit.console import console_routes
from plaudit.console.api_docs import ApiDocsPlugin
from plaudit.errors import PlauditError
from plaudit.loop.queue_fill import QueueFiller
from plaudit.server import problems
from plaudit.server.api import (
    admin,
    agreement,
    annotation_queues,
    datasets,
    evaluations,
    feedback,
    feedback_tokens,
    health,
    proxy,
    query,
    sdk_assets,
    traces,
)
from plaudit.server.collector import serving_collector
from plaudit.server.cors import CorsMiddleware
from plaudit.server.otlp_grpc import start_grpc, stop_grpc
from plaudit.server.problems import (
    handle_http_exception,
    handle_plaudit_error,
    handle_unexpected,
    problem_response,
)
from plaudit.server.state import ConfigCache, ServerState, TokenCache, unavailable
from plaudit.settings import Settings
from plaudit.store.database import ServerClaim, create_database_engine
from plaudit.store.migrate import upgrade
from plaudit.store.spans import LinkAllPending
from plaudit.store.writer import Writer, WriterUnavailable

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
    traces.post_logs,
    traces.post_metrics,
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
    *datasets.ROUTES,
    *annotation_queues.ROUTES,
    agreement.get_agreement,
    *evaluations.ROUTES,
    proxy.proxy_mount,
]


@get("/problems/{slug:str}", include_in_schema=False)
async def problem_type(slug: FromPath[str]) -> dict[str, str]:
    """Problem `type` URIs resolve to a short description."""
    return {"type": f"/problems/{slug}", "see": "/docs and docs/api.md#errors"}


@get("/openapi.json", include_in_schema=False)
async def openapi_json(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """The OpenAPI 3.1 document, served at `/openapi.json`."""
    from plaudit.server.openapi import complete

    return Response(complete(request.app.openapi_schema.to_schema()))


def database_unavailable(
    request: Request[Any, Any, Any], error: OperationalError
) -> Response[bytes]:
    """A database that cannot be reached is a 503 to retry, not a server bug."""
    return problem_response(problems.database_unavailable(error), request.url.path)


def writer_unavailable(
    request: Request[Any, Any, Any], error: WriterUnavailable
) -> Response[bytes]:
    """A full write queue or a missed write deadline is a 503 to retry, not a server bug."""
    return problem_response(unavailable(error), request.url.path)


EXCEPTION_HANDLERS: Final[dict[type[Exception], Callable[..., Response[bytes]]]] = {
    PlauditError: handle_plaudit_error,
    HTTPException: handle_http_exception,
    OperationalError: database_unavailable,
    WriterUnavailable: writer_unavailable,
    Exception: handle_unexpected,
}


AHEAD: Final = ("/v1/feedback", "/v1/traces")
"""The paths whose `POST` the app serves ahead of the framework (see `ahead_of_routing`)."""


def error_response(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    """The answer to `error`, from the handler of its nearest type (as the framework picks)."""
    handler = next(EXCEPTION_HANDLERS[t] for t in type(error).__mro__ if t in EXCEPTION_HANDLERS)
    return handler(request, error)


def _plain_head(response: Response[Any], status: int) -> HTTPResponseStartEvent | None:
    """The start of `response` as the framework would send it, for a bytes body with no cookies
    or background tasks (None otherwise): its own framing objects cost more than the handler's
    reply to a single event."""
    status = response.status_code or status
    if (
        type(response.content) is not bytes
        or response.cookies
        or response.background
        or status < 200
        or status in (204, 304)
    ):
        return None
    headers = [
        (k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in response.headers.items()
    ]
    named = {name for name, _ in headers}
    if b"content-type" not in named:
        media = get_enum_string_value(response.media_type or MediaType.JSON)
        if media.startswith("text/"):
            media = f"{media}; charset={response.encoding}"
        headers.append((b"content-type", media.encode("latin-1")))
    if b"content-length" not in named:
        headers.append((b"content-length", str(len(response.content)).encode("latin-1")))
    return {"type": "http.response.start", "status": status, "headers": headers}


def ahead_of_routing(route: HTTPRouteHandler) -> ASGIApp:
    """`route`'s handler (one taking only the request) as a plain ASGI app that answers as the
    framework would: behind CORS, with errors through `EXCEPTION_HANDLERS`.

    For the ingest routes, which `ProxyFirst.ahead` serves before the framework's routing and
    middleware: that machinery cost more CPU per single-event request than the handler itself
    (docs/performance.md). Only what those routes use is reproduced: no dependencies, guards,
    hooks or parameters.
    """
    handler: Callable[[Request[Any, Any, Any]], Awaitable[Response[bytes]]] = route.fn

    async def respond(scope: Scope, receive: Receive, send: Send) -> None:
        request: Request[Any, Any, Any] = Request(scope, receive, send)
        try:
            response = await handler(request)
        except Exception as error:
            response = error_response(request, error)
        status = route.status_code
        if (head := _plain_head(response, status)) is None:
            answer = response.to_asgi_response(app=None, request=request, status_code=status)
            await answer(scope, receive, send)
            return
        await send(head)
        await send({"type": "http.response.body", "body": response.content, "more_body": False})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["route_handler"] = route  # `Request.stream` reads its body size limit there
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await CorsMiddleware(respond, scope["app"].state.plaudit)(scope, receive, sending)
        except Exception as error:  # raised by CORS itself, before the route ran
            if started:
                raise
            request: Request[Any, Any, Any] = Request(scope, receive, send)
            answer = error_response(request, error).to_asgi_response(app=None, request=request)
            await answer(scope, receive, send)

    return app


def open_state(settings: Settings) -> ServerState:
    """Claim the database, migrate it, start the writer, link feedback that waited across a
    restart. A SQLite file another server process serves is refused (`DatabaseInUse`)."""
    claim = ServerClaim(settings.database_url)
    engine = create_database_engine(settings.database_url)
    upgrade(engine)
    writer = Writer(engine, settings.write_queue, settings.write_timeout)
    writer.start()
    linked = writer.write_sync(LinkAllPending())
    if linked:
        log.info("linked %d waiting feedback events to spans stored before this start", linked)
    return ServerState(settings, engine, writer, TokenCache(engine), ConfigCache(engine), claim)


def close_state(state: ServerState) -> None:
    """Commit what is queued, then release the database."""
    state.writer.stop()
    state.engine.dispose()
    if state.claim is not None:
        state.claim.release()


def worker_app() -> Litestar:
    """The app of one worker process of `plaudit serve --workers N` (a uvicorn factory)."""
    from plaudit.server.logs import configure
    from plaudit.settings import from_worker_environment

    settings = from_worker_environment()
    # A new process: it needs its own log handler.
    configure(settings.log_level, settings.log_format, settings.access_log)
    return create_app(settings)


def create_app(settings: Settings) -> Litestar:
    """The Plaudit server for `settings`."""
    state_box: dict[str, ServerState] = {}

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        state = open_state(settings)
        app.state.plaudit = state
        state_box["state"] = state
        try:
            grpc_server = await start_grpc(state)
        except BaseException:
            close_state(state)
            raise
        filler = QueueFiller(state.engine, state.writer)
        filler.start()
        try:
            with serving_collector():  # fewer, shorter collections under load
                yield
        finally:
            await stop_grpc(grpc_server)  # calls in flight finish before the writer stops
            filler.stop()
            await proxy.close_proxy(app)
            close_state(state)

    def cors(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Any, receive: Any, send: Any) -> None:
            await CorsMiddleware(app, state_box["state"])(scope, receive, send)

        return middleware

    app = proxy.ProxyFirst(
        route_handlers=[*ROUTES, problem_type, openapi_json, *console_routes()],
        lifespan=[lifespan],
        middleware=[cors],
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(
            title="Plaudit",
            version=__version__,
            description="End-user feedback on AI responses, linked to OpenTelemetry traces.",
            path="/docs",
            render_plugins=[ApiDocsPlugin()],  # rendered here: no script from a CDN
        ),
        request_max_body_size=64 * 1024 * 1024,
        debug=False,
        logging_config=None,
    )
    app.ahead = {("POST", path): ahead_of_routing(registered_post(app, path)) for path in AHEAD}
    return app


def registered_post(app: Litestar, path: str) -> HTTPRouteHandler:
    """The app's own copy of a `POST` route's handler (the framework registers a copy of each)."""
    handler = app.route_handler_method_map[path]["POST"]
    assert isinstance(handler, HTTPRouteHandler)
    return handler
