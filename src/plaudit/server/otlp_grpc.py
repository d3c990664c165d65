"""OTLP/gRPC: `TraceService`, `LogsService` and `MetricsService` `Export` on their own port.

The services take the same path as OTLP/HTTP (`server/otlp_intake.py`): the same token and
scope (`authorization: Bearer …` metadata, `traces:write`), the same limits, partial success
in the answer, and an answer only once the writer has committed. What refuses a request over
HTTP refuses it here with the matching gRPC status: 400 → INVALID_ARGUMENT, 401 →
UNAUTHENTICATED, 403 → PERMISSION_DENIED, 413 → RESOURCE_EXHAUSTED (gRPC itself answers so to
a message over the limit), 503 → UNAVAILABLE with a `RetryInfo` where HTTP says `Retry-After`.

grpcio is an extra (`plaudit[grpc]`, about 19 MB installed): without it the server logs one
line and serves OTLP over HTTP only. The grpc.aio server runs in the HTTP server's event loop,
started and stopped by the app's lifespan. With several worker processes each one listens on
the port with SO_REUSEPORT and the kernel spreads connections among them (docs/deploy.md);
with one, the option is off, so a port another server holds is an error, not a silent share.
"""

import importlib.util
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from google.protobuf.any_pb2 import Any as AnyMessage
from google.protobuf.duration_pb2 import Duration
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status

from plaudit.core import limits
from plaudit.core.access import Principal, Scope
from plaudit.ingest import otlp
from plaudit.ingest.otlp_logs import encode_logs_success
from plaudit.server.auth import bearer_token, principal_of, require
from plaudit.server.otlp_intake import Refusal, refusal, take_logs, take_metrics, take_traces
from plaudit.server.state import ServerState
from plaudit.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

TRACE_SERVICE: Final = "opentelemetry.proto.collector.trace.v1.TraceService"
LOGS_SERVICE: Final = "opentelemetry.proto.collector.logs.v1.LogsService"
METRICS_SERVICE: Final = "opentelemetry.proto.collector.metrics.v1.MetricsService"

MISSING_GRPCIO: Final = (
    "OTLP/gRPC is off: grpcio is not installed (pip install 'plaudit[grpc]', or set "
    "--grpc-port 0 to silence this); OTLP/HTTP (/v1/traces, /v1/logs) is served as usual"
)
_STOP_GRACE_SECONDS: Final = 5.0


class GrpcPortUnavailable(RuntimeError):
    """The gRPC port cannot be listened on (in use, or not ours to take)."""


def port_problem(settings: Settings) -> str | None:
    """Why the gRPC port cannot be listened on, found before the server starts (so `plaudit
    serve` can say it in one line), or None — also when gRPC is off or not installed."""
    if not settings.grpc_port or importlib.util.find_spec("grpc") is None:
        return None
    host = settings.host
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC binds
        try:
            probe.bind((host, settings.grpc_port))
        except OSError as error:
            return _unavailable(_address(host, settings.grpc_port), error.strerror or str(error))
    return None


def _unavailable(address: str, why: str) -> str:
    return (
        f"cannot listen for OTLP/gRPC on {address}: {why} (choose another port with "
        "--grpc-port or PLAUDIT_GRPC_PORT, or 0 to turn OTLP/gRPC off)"
    )


async def start_grpc(state: ServerState) -> Any | None:
    """The started `grpc.aio.Server` for the settings' gRPC port, or None when it is off
    (port 0) or grpcio is not installed.

    Raises:
        GrpcPortUnavailable: the port cannot be bound.
    """
    settings = state.settings
    if not settings.grpc_port:
        return None
    try:
        import grpc  # an extra: plaudit[grpc]
    except ImportError:
        log.warning(MISSING_GRPCIO)
        return None
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", limits.MAX_OTLP_BODY_BYTES),
            ("grpc.so_reuseport", 1 if settings.workers > 1 else 0),
        ]
    )
    server.add_generic_rpc_handlers(_handlers(grpc, state))
    address = _address(settings.host, settings.grpc_port)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:
        bound = 0
    if not bound:
        raise GrpcPortUnavailable(_unavailable(address, "the port is in use or not allowed"))
    await server.start()
    log.info("OTLP/gRPC on %s", address)
    return server


async def stop_grpc(server: Any | None) -> None:
    """Stop taking calls, let those in flight finish (they end with the writer's commit)."""
    if server is not None:
        await server.stop(_STOP_GRACE_SECONDS)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _handlers(grpc: Any, state: ServerState) -> tuple[Any, ...]:
    def export(call: Callable[[Principal, bytes], Awaitable[bytes]]) -> Any:
        # No (de)serializers: the body goes to the same decoder as an OTLP/HTTP protobuf body.
        return grpc.unary_unary_rpc_method_handler(_exporting(grpc, state, call))

    async def traces(principal: Principal, body: bytes) -> bytes:
        decoded = await take_traces(state, principal, body, otlp.PROTOBUF, None)
        return otlp.encode_success(decoded, otlp.PROTOBUF)

    async def logs(principal: Principal, body: bytes) -> bytes:
        decoded = await take_logs(state, principal, body, otlp.PROTOBUF, None)
        return encode_logs_success(decoded, otlp.PROTOBUF)

    async def metrics(principal: Principal, body: bytes) -> bytes:
        take_metrics(body, None)
        return b""

    services = {TRACE_SERVICE: traces, LOGS_SERVICE: logs, METRICS_SERVICE: metrics}
    return tuple(
        grpc.method_handlers_generic_handler(service, {"Export": export(call)})
        for service, call in services.items()
    )


def _exporting(
    grpc: Any, state: ServerState, call: Callable[[Principal, bytes], Awaitable[bytes]]
) -> Callable[[bytes, Any], Awaitable[bytes]]:
    """The unary handler: authenticate from the metadata, `call`, or abort with the status
    that stands for the refusal."""
    codes = {code.value[0]: code for code in grpc.StatusCode}

    async def handle(body: bytes, context: Any) -> bytes:
        try:
            principal = await principal_of(state, bearer_token(_authorization(context)))
            require(principal, Scope.TRACES_WRITE)
            if principal.browser_safe:  # counted as over HTTP, though refused just above
                state.rate_limits.check(f"pk:{principal.token_id}", _peer_host(context))
            return await call(principal, body)
        except Exception as error:
            refused = refusal(error)
            if refused is None:
                raise
            code = otlp.status_code(refused.status)
            await context.abort(codes[code], refused.message, _trailers(code, refused))
            raise  # not reached: abort raises

    return handle


def _authorization(context: Any) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return str(value)
    return None


def _peer_host(context: Any) -> str | None:
    """`ipv4:127.0.0.1:5678` → `127.0.0.1`; `ipv6:[::1]:5678` → `::1`."""
    peer = str(context.peer() or "")
    family, _, rest = peer.partition(":")
    if family not in ("ipv4", "ipv6"):
        return None
    host = rest.rpartition(":")[0]
    return host.strip("[]") or None


def _trailers(code: int, refused: Refusal) -> tuple[tuple[str, bytes], ...]:
    """The status details of a refusal: a `RetryInfo` when the client should retry later, both
    where the OTLP exporters read it and inside the `google.rpc.Status` details."""
    if not refused.retry_after:
        return ()
    retry = RetryInfo(retry_delay=Duration(seconds=refused.retry_after))
    detail = AnyMessage()
    detail.Pack(retry)
    status = Status(code=code, message=refused.message, details=[detail])
    return (
        ("google.rpc.retryinfo-bin", retry.SerializeToString()),
        ("grpc-status-details-bin", status.SerializeToString()),
    )
