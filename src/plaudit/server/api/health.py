"""Liveness, readiness and Prometheus metrics."""

from typing import Any, Final

import anyio
import anyio.to_thread
from litestar import Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from plaudit.server.metrics import REGISTRY, WRITER_COMMITS, WRITER_PENDING
from plaudit.server.state import state_of
from plaudit.store.database import ping
from plaudit.store.migrate import is_current
from plaudit.store.writer import Writer


@get("/healthz", summary="Liveness", tags=["operations"], include_in_schema=True)
async def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


READY_CHECK_SECONDS: Final = 3.0


@get("/readyz", summary="Readiness", tags=["operations"])
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """The database answers within 3 s, its schema is current, and the writer commits."""
    state = state_of(request)

    def check() -> str:
        try:
            ping(state.engine)
        except Exception as error:  # any driver error means "not ready"
            return f"unreachable: {type(error).__name__}"
        if not is_current(state.engine):
            return "schema is not at the newest migration"
        return "ok"

    database = f"no answer within {READY_CHECK_SECONDS:g} s"
    with anyio.move_on_after(READY_CHECK_SECONDS):
        database = await anyio.to_thread.run_sync(check, abandon_on_cancel=True)
    writer = _writer_health(state.writer)
    report = {"database": database, "writer": writer}
    ready = database == "ok" and writer == "ok"
    return Response(
        {"status": "ok" if ready else "unavailable", **report}, status_code=200 if ready else 503
    )


def _writer_health(writer: Writer) -> str:
    if not writer.alive:
        return "stopped"
    if writer.failure is not None:
        # The kind of failure only: its message may name hosts or files.
        return f"failing: {writer.failure.partition(':')[0]}"
    return "ok"


@get("/metrics", summary="Prometheus metrics", tags=["operations"])
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Counters of ingest and the writer's queue, in Prometheus text format."""
    writer = state_of(request).writer
    WRITER_PENDING.set(writer.pending)
    WRITER_COMMITS.set(writer.commits)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
