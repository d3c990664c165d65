"""The OTLP/gRPC phase of `bench/ingest.py`: the same export requests as its OTLP/HTTP phase
(100 traces x 10 spans each), sent to `TraceService/Export` on the server's gRPC port over
several channels, one trace of each acknowledged export read back at once over HTTP.

Kept apart from `bench/ingest.py` so that file only starts the server with a gRPC port and
calls `grpc_phase`. The traces get ids of their own (from `FIRST_TRACE` on), so they never
overlap the HTTP phase's, which the feedback phases target.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from bench.ingest import SPANS_PER_TRACE, Http, TraceMaker, count_spans, http_request

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
FIRST_TRACE = 1 << 27  # far past what the HTTP phase reaches; ids stay within 8 hex digits


@dataclass
class GrpcOutcome:
    spans: int = 0
    seconds: float = 0.0
    requests: int = 0
    failed: int = 0
    checked: int = 0
    unqueryable: int = 0
    latencies: list[float] = field(default_factory=list)
    error: str | None = None


async def _worker(
    grpc: Any, address: str, port: int, token: str, deadline: float, maker: TraceMaker,
    out: GrpcOutcome,
) -> None:  # fmt: skip
    metadata = (("authorization", f"Bearer {token}"),)
    loop = asyncio.get_running_loop()
    reader = await Http.connect(port)
    async with grpc.aio.insecure_channel(address) as channel:
        export = channel.unary_unary(EXPORT)  # bytes in, bytes out, as the server reads them
        while loop.time() < deadline:
            trace_ids, body = maker.next()
            sent = loop.time()
            try:
                answer = await export(body, metadata=metadata, timeout=60)
            except grpc.RpcError:
                out.failed += 1
                continue
            finally:
                out.latencies.append(loop.time() - sent)
                out.requests += 1
            response = ExportTraceServiceResponse.FromString(answer)
            out.spans += len(trace_ids) * SPANS_PER_TRACE - response.partial_success.rejected_spans
            status, tree = await reader.send(
                http_request("GET", f"/v1/traces/{trace_ids[out.requests % len(trace_ids)]}", token)
            )
            out.checked += 1
            if status != 200 or count_spans(json.loads(tree)["spans"]) != SPANS_PER_TRACE:
                out.unqueryable += 1
    reader.close()


async def _phase(grpc: Any, address: str, port: int, token: str, seconds: float,
                 connections: int) -> GrpcOutcome:  # fmt: skip
    maker, out = TraceMaker(), GrpcOutcome()
    maker.next_trace = FIRST_TRACE
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.gather(
        *(_worker(grpc, address, port, token, start + seconds, maker, out)
          for _ in range(connections))
    )  # fmt: skip
    out.seconds = loop.time() - start
    return out


def grpc_phase(
    grpc_port: int, http_port: int, token: str, seconds: float, connections: int
) -> GrpcOutcome:
    """Export to the gRPC port for `seconds`; the outcome (`error` set when grpcio is missing)."""
    try:
        import grpc
    except ImportError:
        return GrpcOutcome(error="grpcio is not installed (pip install 'plaudit[grpc]')")
    address = f"127.0.0.1:{grpc_port}"
    # grpc.aio on the standard event loop: the HTTP phases' uvloop is not one it supports.
    return asyncio.run(_phase(grpc, address, http_port, token, seconds, connections))
