"""CPU of ingest's request path, measured in-process (no sockets, no uvicorn).

    python bench/request_path.py [--rounds 5] [--requests 1000]
    python bench/request_path.py --otlp [--rounds 5] [--exports 20] [--postgres] [--ab OTHER/src]

Prints two figures, each the median of `--rounds` blocks:

- `loop`: CPU time of the event loop's thread per single-event `POST /v1/feedback`, 32 requests in
  flight, driving the server's ASGI app directly on a fresh SQLite database. Blocks alternate
  between the routes served ahead of the framework (`ProxyFirst.ahead`) and the same app with
  `ahead` emptied (the framework's routing, middleware and exception handling), so the two
  compare back to back in one process. The writer's thread is not counted.
- `validation`: CPU per event to decode and validate batches of 500 (`decode_body` and
  `check_items`), in this process.

To compare two commits, run it with `PYTHONPATH=<other checkout>/src` as well.

With `--otlp`, it measures OTLP trace ingest instead, with exports of the shape `ingest.py`
sends (100 traces of 10 spans, protobuf), on a fresh SQLite database:

- `process`: CPU of the whole process (event loop, decoding thread and writer) per span while
  `--exports` exports go through `POST /v1/traces` of the server's ASGI app, 4 in flight (as
  `ingest.py`'s OTLP phase); each is acknowledged once committed.
- `steps`: the same work one step at a time on this thread, CPU per span: `decode_export`,
  `StoreSpans` applied on a connection (rows, insert, linking waiting feedback), commit.

`--postgres` runs them on a new schema of the PostgreSQL at 127.0.0.1:5432 (database `test`)
instead. `--ab OTHER/src` runs the OTLP measurement in fresh processes (3 blocks each),
alternating `--rounds` times between `PYTHONPATH=OTHER/src` (A) and this checkout's `src` (B),
and prints each side's median of the per-run medians, and B's change against A.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest import SPANS_PER_TRACE, TRACES_PER_REQUEST, FeedbackMaker, TraceMaker
from bench.scratch import scratch_database
from plaudit.core.access import Scope
from plaudit.ingest.feedback import check_items, decode_body
from plaudit.ingest.otlp import PROTOBUF, decode_export
from plaudit.server.app import create_app
from plaudit.settings import Settings
from plaudit.store.database import create_database_engine
from plaudit.store.migrate import upgrade
from plaudit.store.spans import StoreSpans
from plaudit.store.tokens import create_token

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
IN_FLIGHT = 32
OTLP_IN_FLIGHT = 4
SPANS_PER_EXPORT = TRACES_PER_REQUEST * SPANS_PER_TRACE


def admin_token(url: str) -> str:
    engine = create_database_engine(url)
    upgrade(engine)
    with engine.begin() as connection:
        secret: str = create_token(connection, "default", frozenset({Scope.ADMIN}), "bench")[1]
    engine.dispose()
    return secret


class Lifespan:
    """The app's startup and shutdown, driven as an ASGI server would."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self.started = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async def receive() -> dict[str, str]:
            return await self.inbox.get()

        async def send(message: dict[str, Any]) -> None:
            if message["type"].startswith("lifespan.startup"):
                self.started.set()

        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        await self.inbox.put({"type": "lifespan.startup"})
        self.task = asyncio.create_task(self.app(scope, receive, send))
        await self.started.wait()

    async def stop(self) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        if self.task is not None:
            await self.task


async def post(
    app: Any, headers: list[tuple[bytes, bytes]], body: bytes, path: str = "/v1/feedback"
) -> int:
    """One `POST` to `path` through the ASGI app; its status."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000), "state": {},
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
    }  # fmt: skip
    received = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:  # the request is over: wait as a server does for a disconnect
            await asyncio.sleep(3600)
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def loop_cpu(rounds: int, requests: int) -> dict[str, list[float]]:
    """Loop-thread CPU µs per request, ahead of the framework and through it, block by block."""
    url = f"sqlite:///{tempfile.mkdtemp(prefix='plaudit-reqpath-')}/plaudit.db"
    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        (b"authorization", f"Bearer {admin_token(url)}".encode()),
    ]
    app: Any = create_app(Settings(database_url=url, grpc_port=0))
    ahead = dict(getattr(app, "ahead", {}))
    lifespan = Lifespan(app)
    await lifespan.start()
    maker = FeedbackMaker("p", 100)

    async def block(count: int) -> float:
        bodies = [maker.single()[1] for _ in range(count)]
        began = time.thread_time()
        for i in range(0, count, IN_FLIGHT):
            in_flight = bodies[i : i + IN_FLIGHT]
            statuses = await asyncio.gather(*(post(app, headers, b) for b in in_flight))
            assert all(status == 200 for status in statuses), statuses
        return (time.thread_time() - began) / count * 1e6

    await block(200)  # warm caches and the writer
    figures: dict[str, list[float]] = {"ahead": [], "framework": []}
    for _ in range(rounds):
        for name in ("framework", "ahead"):
            app.ahead = ahead if name == "ahead" else {}
            figures[name].append(await block(requests))
    await lifespan.stop()
    return figures


def validation_cpu(rounds: int) -> list[float]:
    """CPU µs per event to decode and validate 20 batches of 500, `rounds` times."""
    maker = FeedbackMaker("v", 100)
    bodies = [maker.batch(500)[1] for _ in range(20)]
    now = datetime.now(UTC)

    def run() -> None:
        for raw in bodies:
            body = decode_body(raw, "application/json")
            check_items(
                body, raw, now=now, project_of=lambda _: "default", configs=lambda _: {},
                forced_source=None,
            )  # fmt: skip

    run()
    figures = []
    for _ in range(rounds):
        began = time.process_time()
        run()
        figures.append((time.process_time() - began) / (20 * 500) * 1e6)
    return figures


@contextmanager
def fresh_database(postgres: bool) -> Iterator[str]:
    """The URL of a new SQLite file, or of a new schema of the PostgreSQL at `POSTGRES` (removed
    afterwards)."""
    with (
        tempfile.TemporaryDirectory(prefix="plaudit-reqpath-") as folder,
        scratch_database(POSTGRES if postgres else None, Path(folder)) as url,
    ):
        yield url


async def otlp_process_cpu(url: str, rounds: int, exports: int) -> list[float]:
    """Process CPU µs per span of `exports` OTLP exports through the app, `rounds` blocks."""
    headers = [
        (b"host", b"127.0.0.1"),
        (b"content-type", PROTOBUF.encode()),
        (b"authorization", f"Bearer {admin_token(url)}".encode()),
    ]
    app: Any = create_app(Settings(database_url=url, grpc_port=0))
    lifespan = Lifespan(app)
    await lifespan.start()
    maker = TraceMaker()

    async def block(count: int) -> float:
        bodies = [maker.next()[1] for _ in range(count)]
        began = time.process_time()
        for i in range(0, count, OTLP_IN_FLIGHT):
            in_flight = bodies[i : i + OTLP_IN_FLIGHT]
            statuses = await asyncio.gather(
                *(post(app, headers, b, "/v1/traces") for b in in_flight)
            )
            assert all(status == 200 for status in statuses), statuses
        return (time.process_time() - began) / (count * SPANS_PER_EXPORT) * 1e6

    await block(8)  # warm caches and the writer
    figures = [await block(exports) for _ in range(rounds)]
    await lifespan.stop()
    return figures


def otlp_steps_cpu(url: str, rounds: int, exports: int) -> dict[str, list[float]]:
    """CPU µs per span of decoding, storing and committing exports, one step at a time."""
    engine = create_database_engine(url)
    upgrade(engine)
    maker = TraceMaker()
    figures: dict[str, list[float]] = {"decode": [], "store": [], "commit": []}
    with engine.connect() as connection:
        for r in range(rounds + 1):
            spent = dict.fromkeys(figures, 0.0)
            for body in [maker.next()[1] for _ in range(exports)]:
                began = time.process_time()
                decoded = decode_export(body, PROTOBUF, None, 1 << 30)
                decoded_at = time.process_time()
                transaction = connection.begin()
                StoreSpans("default", decoded.spans, datetime.now(UTC)).apply(connection)
                stored_at = time.process_time()
                transaction.commit()
                spent["decode"] += decoded_at - began
                spent["store"] += stored_at - decoded_at
                spent["commit"] += time.process_time() - stored_at
            if r:  # the first round warms up
                for name, seconds in spent.items():
                    figures[name].append(seconds / (exports * SPANS_PER_EXPORT) * 1e6)
    engine.dispose()
    return figures


def otlp(rounds: int, exports: int, postgres: bool) -> dict[str, float]:
    """The OTLP figures of this process's code: medians of `rounds` blocks."""
    with fresh_database(postgres) as url:
        process = asyncio.run(otlp_process_cpu(url, rounds, exports))
    figures = {"process": statistics.median(process)}
    with fresh_database(postgres) as url:
        for name, values in otlp_steps_cpu(url, rounds, exports).items():
            figures[name] = statistics.median(values)
    return figures


def otlp_ab(other_src: str, rounds: int, exports: int, postgres: bool) -> None:
    """Alternate fresh processes between `other_src` (A) and this checkout (B); print both."""
    ours = str(Path(__file__).resolve().parents[1] / "src")
    runs: dict[str, list[dict[str, float]]] = {"A": [], "B": []}
    for r in range(rounds):
        for side, src in (
            (("A", other_src), ("B", ours)) if r % 2 == 0 else (("B", ours), ("A", other_src))
        ):
            command = [sys.executable, __file__, "--otlp", "--json", "--rounds", "3",
                       "--exports", str(exports)]  # fmt: skip
            command += ["--postgres"] if postgres else []
            environment = {**os.environ, "PYTHONPATH": src}
            out = subprocess.run(
                command, env=environment, check=True, capture_output=True, text=True
            )
            runs[side].append(json.loads(out.stdout))
            shown = ", ".join(f"{name} {value:.2f}" for name, value in runs[side][-1].items())
            print(f"run {r + 1} {side}: {shown}", file=sys.stderr)
    for name in runs["A"][0]:
        a = statistics.median(run[name] for run in runs["A"])
        b = statistics.median(run[name] for run in runs["B"])
        print(f"{name:8s}: A {a:6.2f}  B {b:6.2f} µs CPU per span ({(b - a) / a:+.1%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=1000, help="requests per block")
    parser.add_argument("--otlp", action="store_true", help="measure OTLP trace ingest instead")
    parser.add_argument("--exports", type=int, default=20, help="OTLP exports per block")
    parser.add_argument("--ab", metavar="OTHER_SRC", help="OTLP: alternate with this src (A)")
    parser.add_argument("--json", action="store_true", help="OTLP: one JSON object on stdout")
    parser.add_argument("--postgres", action="store_true", help=f"OTLP: on {POSTGRES}")
    args = parser.parse_args()
    if args.ab:
        otlp_ab(args.ab, args.rounds, args.exports, args.postgres)
        return
    if args.otlp:
        figures = otlp(args.rounds, args.exports, args.postgres)
        if args.json:
            print(json.dumps(figures))
            return
        for name, value in figures.items():
            print(f"otlp, {name:7s}: {value:6.2f} µs CPU per span")
        return
    loop = asyncio.run(loop_cpu(args.rounds, args.requests))
    for name, values in loop.items():
        print(f"loop, {name:9s}: {statistics.median(values):6.1f} µs CPU per request "
              f"(blocks: {', '.join(f'{v:.0f}' for v in values)})")  # fmt: skip
    values = validation_cpu(args.rounds)
    print(f"validation     : {statistics.median(values):6.2f} µs CPU per event in batches of 500 "
          f"(runs: {', '.join(f'{v:.2f}' for v in values)})")  # fmt: skip


if __name__ == "__main__":
    main()
