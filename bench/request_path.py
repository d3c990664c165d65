"""CPU of ingest's request path, measured in-process (no sockets, no uvicorn).

    python bench/request_path.py [--rounds 5] [--requests 1000]

Prints two figures, each the median of `--rounds` blocks:

- `loop`: CPU time of the event loop's thread per single-event `POST /v1/feedback`, 32 requests in
  flight, driving the server's ASGI app directly on a fresh SQLite database. Blocks alternate
  between the routes served ahead of the framework (`ProxyFirst.ahead`) and the same app with
  `ahead` emptied (the framework's routing, middleware and exception handling), so the two
  compare back to back in one process. The writer's thread is not counted.
- `validation`: CPU per event to decode and validate batches of 500 (`decode_body` and
  `check_items`), in this process.

To compare two commits, run it with `PYTHONPATH=<other checkout>/src` as well.
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest import FeedbackMaker
from plaudit.core.access import Scope
from plaudit.ingest.feedback import check_items, decode_body
from plaudit.server.app import create_app
from plaudit.settings import Settings
from plaudit.store.database import create_database_engine
from plaudit.store.migrate import upgrade
from plaudit.store.tokens import create_token

IN_FLIGHT = 32


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


async def post(app: Any, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    """One `POST /v1/feedback` through the ASGI app; its status."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/feedback", "raw_path": b"/v1/feedback",
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=1000, help="requests per block")
    args = parser.parse_args()
    loop = asyncio.run(loop_cpu(args.rounds, args.requests))
    for name, values in loop.items():
        print(f"loop, {name:9s}: {statistics.median(values):6.1f} µs CPU per request "
              f"(blocks: {', '.join(f'{v:.0f}' for v in values)})")  # fmt: skip
    values = validation_cpu(args.rounds)
    print(f"validation     : {statistics.median(values):6.2f} µs CPU per event in batches of 500 "
          f"(runs: {', '.join(f'{v:.2f}' for v in values)})")  # fmt: skip


if __name__ == "__main__":
    main()
