"""SDK hot-path costs and background throughput, against `plaudit serve` (DESIGN §11).

    python bench/sdk.py [--events 100000]

Prints: span start+end on the app's thread (bare OpenTelemetry span, then Plaudit span; both
exported to the server by the same batch processor, whose thread competes for the GIL), `send`
enqueue cost (target ≤ 20 µs), and how fast the background sender stores events in a running
server (SQLite, started here in a subprocess).
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

import plaudit.sdk as plaudit
from plaudit.core.access import Scope
from plaudit.store.database import create_database_engine
from plaudit.store.migrate import upgrade
from plaudit.store.tokens import create_token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    engine = create_database_engine(database_url)
    upgrade(engine)
    with engine.begin() as connection:
        token = create_token(connection, "default", frozenset({Scope.ADMIN}), "bench")[1]
    engine.dispose()
    port = free_port()
    plaudit_script = Path(sys.executable).parent / "plaudit"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAUDIT_")}
    env["PLAUDIT_LOG_LEVEL"] = "warning"
    env["PLAUDIT_GRPC_PORT"] = "0"
    process = subprocess.Popen(
        [str(plaudit_script), "serve", "--database-url", database_url, "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url, token
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit("plaudit serve did not start")


def per_call_us(samples: list[int]) -> str:
    ordered = sorted(samples)
    p99 = ordered[int(len(ordered) * 0.99)] / 1000
    return f"mean {statistics.fmean(samples) / 1000:6.2f} µs  p50 {ordered[len(ordered) // 2] / 1000:6.2f} µs  p99 {p99:6.2f} µs"  # noqa: E501


def bench_spans(count: int) -> None:
    from opentelemetry import trace

    tracer = trace.get_tracer("bench")
    for label, make in (
        ("OpenTelemetry span start+end", lambda: tracer.start_as_current_span("respond")),
        ("plaudit.span start+end", lambda: plaudit.span("respond", capability="c", step="s")),
    ):
        plaudit.flush(timeout=60)  # each loop starts with the exporter idle
        samples = []
        for _ in range(count):
            start = time.perf_counter_ns()
            with make():
                pass
            samples.append(time.perf_counter_ns() - start)
        print(f"{label:34s} {per_call_us(samples)}")


def bench_send(url: str, token: str, events: int) -> None:
    client = plaudit.Client(url, token, max_queue=events + 1)
    links = {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}
    samples = []
    began = time.perf_counter()
    for i in range(events):
        feedback = plaudit.Feedback.thumb_up(name="quality", user_id=f"u-{i}")
        start = time.perf_counter_ns()
        client.send(links, feedback)
        samples.append(time.perf_counter_ns() - start)
    queued = time.perf_counter() - began
    assert client.flush(timeout=300), "the sender did not finish"
    stored = time.perf_counter() - began
    print(f"{'send() enqueue (target ≤ 20 µs)':34s} {per_call_us(samples)}")
    print(f"{'background sender':34s} {events:,} events stored in {stored:.2f} s "
          f"= {events / stored:,.0f} events/s (enqueueing took {queued:.2f} s)")  # fmt: skip
    client.shutdown()
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}"}) as api:
        got = api.get("/v1/feedback", params={"limit": 1, "user_id": f"u-{events - 1}"}).json()
        assert got["items"], "the last event is not stored"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--spans", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        process, url, token = start_server(Path(workdir))
        try:
            plaudit.init(url=url, token=token, service_name="bench")
            bench_spans(args.spans)
            bench_send(url, token, args.events)
            assert plaudit.flush(timeout=60)
            plaudit.shutdown()
        finally:
            process.terminate()
            process.wait(timeout=20)


if __name__ == "__main__":
    main()
