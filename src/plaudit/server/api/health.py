"""Liveness, readiness and Prometheus metrics."""

from typing import Any

import anyio.to_thread
from litestar import Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from plaudit.server.metrics import REGISTRY, WRITER_COMMITS, WRITER_PENDING
from plaudit.server.state import state_of
from plaudit.store.database import ping
from plaudit.store.migrate import is_current


@get("/healthz", summary="Liveness", tags=["operations"], include_in_schema=True)
async def healthz() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@get("/readyz", summary="Readiness", tags=["operations"])
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """The database answers and its schema is current."""
    state = state_of(request)

    def check() -> dict[str, Any]:
        try:
            ping(state.engine)
        except Exception as error:  # any driver error means "not ready"
            return {"status": "unavailable", "database": f"unreachable: {type(error).__name__}"}
        if not is_current(state.engine):
            return {"status": "unavailable", "database": "schema is not at the newest migration"}
        return {"status": "ok", "database": "ok"}

    report = await anyio.to_thread.run_sync(check)
    return Response(report, status_code=200 if report["status"] == "ok" else 503)


@get("/metrics", summary="Prometheus metrics", tags=["operations"])
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Counters of ingest and the writer's queue, in Prometheus text format."""
    writer = state_of(request).writer
    WRITER_PENDING.set(writer.pending)
    WRITER_COMMITS.set(writer.commits)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
