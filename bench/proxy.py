"""Proxy benchmark: what `/proxy/{upstream}` adds to a call, against calling the upstream directly.

    python bench/proxy.py                 # 10 s per phase
    python bench/proxy.py --quick --json  # a few seconds per phase, machine-readable

Starts a fake OpenAI-compatible upstream and `plaudit serve` with `PLAUDIT_PROXY_UPSTREAMS`
pointing at it, as a user would, each in its own process; the load comes from a third process
(this script with `--drive`), so the load generator's CPU is not the server's. In the same run,
each phase first straight to the upstream, then through the proxy, with the same load generator;
the proxy's figure minus the direct one is what the proxy adds:

  whole    non-streaming chat completions at a fixed number of concurrent calls (default 100), the
           upstream answering at once: how many calls/s one server process relays (its capacity),
           and latency, which in this closed loop is mostly the wait in line (concurrency ÷ calls/s)
  model    the same, the upstream answering after a time drawn for each call between half and
           one and a half times `--model-ms` (default 500 ms, a short model answer), and the
           concurrent callers starting at random moments within the first `--model-ms`, as
           independent users do: the latency the proxy adds to real calls at that concurrency.
           Each call's drawn time (the same sequence direct and through the proxy) is subtracted
           from its latency, so what is compared is the time spent outside the model
  stream   streamed answers (20 chunks, 5 ms apart); each chunk carries the upstream's send time,
           so its delivery latency is measured chunk by chunk, direct and through the proxy

Each proxied phase also reports the server's CPU per call (`server_cpu_us_per_call`), which
depends little on what else runs on the machine. Targets (docs/proxy.md): adds p50 ≤ 2 ms and
p99 ≤ 10 ms to a non-streamed call at 100 concurrent calls, and ≤ 1 ms to each streamed chunk.
Every proxied call is also stored as a span.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest import (  # type: ignore[import-not-found]
    Http,
    cpu_seconds,
    create_token,
    free_port,
    percentile,
    plaudit_executable,
    profiled,
    run_async,
    wait_ready,
)

CHUNKS = 20
CHUNK_GAP = 0.005
MODEL_HEADER = "x-bench-answer-after-ms"
ANSWER = (
    b'{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench",'
    b'"choices":[{"index":0,"message":{"role":"assistant","content":"A short answer."},'
    b'"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":4,"total_tokens":14}}'
)
REQUEST = json.dumps(
    {"model": "bench", "messages": [{"role": "user", "content": "How long is a piece of string?"}]}
).encode()
STREAM_REQUEST = json.dumps(
    {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "Count."}]}
).encode()


# ---------------------------------------------------------------------------------------------
# The fake upstream (run as `python bench/proxy.py --serve-upstream PORT`)


async def upstream_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if b'"stream": true' not in body:
        for name, value in scope["headers"]:
            if name == MODEL_HEADER.encode():  # a model takes this long to answer
                await asyncio.sleep(float(value) / 1000)
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": ANSWER})
        return
    headers = [(b"content-type", b"text/event-stream")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for index in range(CHUNKS):
        chunk = {"id": "chatcmpl-bench", "model": "bench", "t": time.monotonic_ns(),
                 "choices": [{"index": 0, "delta": {"content": f"{index} "}}]}  # fmt: skip
        event = b"data: " + json.dumps(chunk).encode() + b"\n\n"
        await send({"type": "http.response.body", "body": event, "more_body": True})
        await asyncio.sleep(CHUNK_GAP)
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})


def serve_upstream(port: int) -> None:
    import uvicorn

    uvicorn.run(upstream_app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ---------------------------------------------------------------------------------------------
# Load


def request_bytes(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(body)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return head.encode() + b"\r\n" + body


@dataclass
class Phase:
    """Latencies (seconds) and how many calls completed in how long."""

    latencies: list[float] = field(default_factory=list)
    chunk_delays: list[float] = field(default_factory=list)
    calls: int = 0
    failed: int = 0
    seconds: float = 0.0

    def summary(self) -> dict[str, float]:
        found = {"calls_per_s": self.calls / self.seconds if self.seconds else 0.0}
        if self.latencies:
            found["p50_ms"] = percentile(self.latencies, 0.50) * 1000
            found["p99_ms"] = percentile(self.latencies, 0.99) * 1000
        if self.chunk_delays:
            found["chunk_p50_ms"] = percentile(self.chunk_delays, 0.50) * 1000
            found["chunk_p99_ms"] = percentile(self.chunk_delays, 0.99) * 1000
        found["failed"] = self.failed
        return found


async def whole_phase(port: int, path: str, headers: dict[str, str], seconds: float,
                      concurrency: int, model_ms: float = 0.0) -> Phase:  # fmt: skip
    """Non-streamed calls in a closed loop; with `model_ms`, each call asks the upstream to take
    a drawn time (seeded per caller, so direct and proxied phases draw the same sequence), and
    its latency is counted without it."""
    request = request_bytes(path, REQUEST, headers)
    phase = Phase()
    stop = time.monotonic() + seconds

    async def worker(caller: int) -> None:
        draw = random.Random(caller)
        connection = await Http.connect(port)
        try:
            if model_ms:
                await asyncio.sleep(draw.uniform(0, model_ms) / 1000)
            while time.monotonic() < stop:
                answer_after = draw.uniform(0.5, 1.5) * model_ms if model_ms else 0.0
                call = request
                if answer_after:
                    call = request_bytes(
                        path, REQUEST, {**headers, MODEL_HEADER: f"{answer_after:.3f}"}
                    )
                began = time.perf_counter()
                status, body = await connection.send(call)
                phase.latencies.append(time.perf_counter() - began - answer_after / 1000)
                phase.calls += 1
                if status != 200 or body != ANSWER:
                    phase.failed += 1
        finally:
            connection.close()

    began = time.monotonic()
    await asyncio.gather(*(worker(caller) for caller in range(concurrency)))
    phase.seconds = time.monotonic() - began
    return phase


async def stream_phase(port: int, path: str, headers: dict[str, str], seconds: float,
                       concurrency: int) -> Phase:  # fmt: skip
    request = request_bytes(path, STREAM_REQUEST, headers)
    phase = Phase()
    stop = time.monotonic() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < stop:
                writer.write(request)
                await reader.readuntil(b"\r\n\r\n")
                events = await _read_chunked_events(reader, phase)
                phase.calls += 1
                if events != CHUNKS + 1:
                    phase.failed += 1
        finally:
            writer.close()

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    phase.seconds = time.monotonic() - began
    return phase


async def _read_chunked_events(reader: asyncio.StreamReader, phase: Phase) -> int:
    """Read one chunked SSE answer, timing each event against the send time it carries."""
    events = 0
    pending = b""
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        pending += await reader.readexactly(size)
        await reader.readexactly(2)
        arrived = time.monotonic_ns()
        while b"\n\n" in pending:
            event, pending = pending.split(b"\n\n", 1)
            events += 1
            if event.startswith(b"data: {"):
                sent = json.loads(event[6:])["t"]
                phase.chunk_delays.append((arrived - sent) / 1e9)
    await reader.readuntil(b"\r\n")
    return events


# ---------------------------------------------------------------------------------------------
# The run


def spawn(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)


def wait_port(port: int, timeout: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise SystemExit(f"nothing listens on {port}")


def run(options: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="plaudit-bench-proxy-"))
    upstream_port, port = free_port(), free_port()
    upstream = spawn(
        [sys.executable, __file__, "--serve-upstream", str(upstream_port)], workdir / "up.log"
    )
    database = f"sqlite:///{workdir / 'plaudit.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAUDIT_")}
    env["PLAUDIT_PROXY_UPSTREAMS"] = f"bench=http://127.0.0.1:{upstream_port}/v1"
    env["PLAUDIT_LOG_LEVEL"] = "warning"
    env["PLAUDIT_GRPC_PORT"] = "0"
    token = create_token(database)
    command = [str(plaudit_executable()), "serve", "--port", str(port), "--database-url", database]
    began = time.monotonic()
    server = spawn(command, workdir / "server.log", env)
    try:
        from ingest import Server  # type: ignore[import-not-found]

        wait_ready(Server(server, port, workdir / "server.log"), began)
        wait_port(upstream_port)
        report = _phases(Ports(upstream_port, port, upstream.pid, server.pid), token, options)
    finally:
        for process in (server, upstream):
            process.terminate()
            process.wait(timeout=30)
    shutil.rmtree(workdir, ignore_errors=True)  # kept (with the servers' logs) if the run failed
    return report


@dataclass(frozen=True)
class Ports:
    """Where the upstream and the server listen, and their process ids (for their CPU time)."""

    upstream: int
    server: int
    upstream_pid: int
    server_pid: int


def drive(kind: str, port: int, path: str, headers: dict[str, str], seconds: float,
          concurrency: int, pid: int, profile: Path | None = None,
          name: str = "", model_ms: float = 0.0) -> dict[str, float]:  # fmt: skip
    """One phase, loaded from another process; its summary, with `pid`'s CPU per call."""
    command = [sys.executable, __file__, "--drive", json.dumps(
        {"kind": kind, "port": port, "path": path, "headers": headers, "seconds": seconds,
         "concurrency": concurrency, "model_ms": model_ms})]  # fmt: skip
    cpu = cpu_seconds(pid)
    with profiled(pid, profile, name):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the load generator failed:\n{done.stderr[-4000:]}")
    summary: dict[str, float] = json.loads(done.stdout)
    calls = summary["calls_per_s"] * summary["seconds"]
    if calls:
        summary["server_cpu_us_per_call"] = (cpu_seconds(pid) - cpu) / calls * 1e6
    return summary


def load(spec: dict[str, Any]) -> dict[str, float]:
    """Run one phase in this process (`--drive`): what `drive` reads."""
    arguments = (spec["port"], spec["path"], spec["headers"], spec["seconds"], spec["concurrency"])
    if spec["kind"] == "whole":
        phase = run_async(whole_phase(*arguments, spec.get("model_ms", 0.0)))
    else:
        phase = run_async(stream_phase(*arguments))
    return {**phase.summary(), "seconds": phase.seconds}


def _phases(ports: Ports, token: str, options: argparse.Namespace) -> dict[str, Any]:
    seconds, concurrency = options.seconds, options.concurrency
    auth = {"Authorization": "Bearer sk-provider-key", "Plaudit-Auth": f"Bearer {token}"}
    direct, proxied = "/v1/chat/completions", "/proxy/bench/chat/completions"
    up, server = (ports.upstream, ports.upstream_pid), (ports.server, ports.server_pid)
    drive("whole", ports.server, proxied, auth, min(1.0, seconds), 4, ports.server_pid)  # warm up
    report: dict[str, Any] = {}
    load_before = os.getloadavg()[0]
    for name, kind, calls, model_ms in (
        ("whole", "whole", concurrency, 0.0),
        ("model", "whole", concurrency, float(options.model_ms)),
        ("stream", "stream", options.stream_concurrency, 0.0),
    ):
        for where, (port, pid), path in (("direct", up, direct), ("proxy", server, proxied)):
            profile = options.profile if where == "proxy" else None
            report[f"{name}_{where}"] = drive(kind, port, path, auth, seconds, calls, pid,
                                              profile, name, model_ms)  # fmt: skip
    added: dict[str, float] = {}
    for name in ("whole", "model", "stream"):
        d, p = report[f"{name}_direct"], report[f"{name}_proxy"]
        for figure in ("p50_ms", "p99_ms", "chunk_p50_ms", "chunk_p99_ms"):
            if figure in d and figure in p:
                added[f"{name}_{figure}"] = p[figure] - d[figure]
    report["added"] = added
    report["settings"] = {"seconds": seconds, "concurrency": concurrency,
                          "stream_concurrency": options.stream_concurrency, "chunks": CHUNKS,
                          "model_ms": options.model_ms,
                          # other work on the machine skews every figure but CPU per call
                          "load_average": [load_before, os.getloadavg()[0]]}  # fmt: skip
    return report


def show(report: dict[str, Any]) -> None:
    settings = report["settings"]
    print(f"proxy bench: {settings['seconds']:.0f} s per phase, {settings['concurrency']} "
          f"concurrent calls (streams: {settings['stream_concurrency']}); the model phase's "
          f"upstream answers after {settings['model_ms'] // 2}–{settings['model_ms'] * 3 // 2} ms "
          f"(latencies below are without it); machine load average "
          f"{settings['load_average'][0]:.1f} → {settings['load_average'][1]:.1f}")  # fmt: skip
    for name in ("whole", "model", "stream"):
        for where in ("direct", "proxy"):
            figures = "  ".join(
                f"{k}={v:,.2f}" for k, v in report[f"{name}_{where}"].items() if k != "seconds"
            )
            print(f"  {name}_{where:<8} {figures}")
    added = report["added"]
    print("  added by the proxy (targets: p50 ≤ 2 ms, p99 ≤ 10 ms, ≤ 1 ms per streamed chunk):")
    print(f"    upstream answering at once: p50 {added['whole_p50_ms']:.2f} ms, "
          f"p99 {added['whole_p99_ms']:.2f} ms (mostly waiting in line: see calls/s)")  # fmt: skip
    print(f"    upstream answering after about {settings['model_ms']} ms: p50 "
          f"{added['model_p50_ms']:.2f} ms, p99 {added['model_p99_ms']:.2f} ms")  # fmt: skip
    print(f"    per streamed chunk: p50 {added['stream_chunk_p50_ms']:.2f} ms, "
          f"p99 {added['stream_chunk_p99_ms']:.2f} ms")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--quick", action="store_true", help="2 s per phase (for tests)")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--stream-concurrency", type=int, default=10)
    parser.add_argument(
        "--model-ms",
        type=int,
        default=500,
        help="the model phase's upstream answers this late on average (half to one and a half)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy the server in each proxied phase"
    )
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.serve_upstream:
        serve_upstream(options.serve_upstream)
        return 0
    if options.drive:
        print(json.dumps(load(json.loads(options.drive))))
        return 0
    if options.quick:
        options.seconds = 2.0
    if options.profile:
        options.profile.mkdir(parents=True, exist_ok=True)
    report = run(options)
    if options.json:
        print(json.dumps(report, indent=2))
    else:
        show(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
