"""The durability promise, against `plaudit serve` run as a user runs it, on SQLite and PostgreSQL.

"Feedback is acknowledged only after it is durably stored; retries never duplicate it" (DESIGN §3,
§8): the server is killed with SIGKILL in the middle of concurrent single-event ingest, restarted on
the same database, and every event it acknowledged must be there exactly once. Then "feedback that
arrives before its span stays pending and is linked whenever the span arrives — after a restart".
"""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from plaudit.store.database import create_database_engine
from plaudit.store.schema import feedback, feedback_history
from tests.conftest import free_port, make_tokens

READY_SECONDS = 20.0


def _plaudit_command() -> list[str]:
    """The installed `plaudit` script of this environment (or `python -m plaudit`)."""
    script = Path(sys.executable).parent / "plaudit"
    if script.exists():
        return [str(script)]
    found = shutil.which("plaudit")
    return [found] if found else [sys.executable, "-m", "plaudit"]


class ServerProcess:
    """`plaudit serve` (or `plaudit demo`) in a subprocess on loopback, logging to a file."""

    def __init__(
        self, database_url: str, log_path: Path, *extra: str, command: str = "serve"
    ) -> None:
        self.database_url = database_url
        self.command = command
        self.log_path = log_path
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> "ServerProcess":
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLAUDIT_")}
        env["PLAUDIT_LOG_LEVEL"] = "warning"
        env["PLAUDIT_GRPC_PORT"] = "0"
        command = [
            *_plaudit_command(), self.command, "--database-url", self.database_url,
            "--host", "127.0.0.1", "--port", str(self.port), *self.extra,
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"plaudit serve exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"plaudit serve was not ready in {READY_SECONDS} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.running():
            os.kill(self.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)

    def terminate(self, timeout: float = 15) -> int:
        """SIGTERM, as a service manager stops it; the exit code."""
        assert self.process is not None
        os.kill(self.pid, signal.SIGTERM)
        return self.process.wait(timeout=timeout)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[ServerProcess]]:
    """Servers started by a test; whatever is still running at the end is killed."""
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.kill()


def start(
    servers: list[ServerProcess], database_url: str, tmp_path: Path, *extra: str
) -> ServerProcess:
    server = ServerProcess(database_url, tmp_path / f"server-{len(servers)}.log", *extra)
    servers.append(server)
    return server.start()


@pytest.fixture
def token(database_url: str) -> str:
    """An admin token of the `default` project (also migrates the database)."""
    return make_tokens(database_url)[0]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_database_engine(database_url)
    yield engine
    engine.dispose()


def rows_per_id(engine: Engine, prefix: str) -> dict[str, int]:
    """How many stored feedback rows each id starting with `prefix` has, counted in SQL."""
    query = (
        select(feedback.c.id, func.count())
        .where(feedback.c.project == "default", feedback.c.id.like(f"{prefix}%"))
        .group_by(feedback.c.id)
    )
    with engine.connect() as connection:
        return {event_id: count for event_id, count in connection.execute(query)}


def history_rows(engine: Engine, prefix: str) -> int:
    query = select(func.count()).where(
        feedback_history.c.project == "default", feedback_history.c.feedback_id.like(f"{prefix}%")
    )
    with engine.connect() as connection:
        return int(connection.scalar(query) or 0)


def hex_id(chars: int) -> str:
    return secrets.token_hex(chars // 2)


@dataclass
class Load:
    """What concurrent senders did: every event they tried, and which the server acknowledged."""

    attempted: dict[str, dict[str, Any]] = field(default_factory=dict)
    acknowledged: set[str] = field(default_factory=set)
    other_answers: list[str] = field(default_factory=list)
    transport_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def sender(
    url: str, token: str, prefix: str, number: int, load: Load, stop: threading.Event
) -> None:
    """POST single events with client-chosen ids until the server dies or `stop` is set."""
    with httpx.Client(
        base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=10
    ) as client:
        sequence = 0
        while not stop.is_set():
            event_id = f"{prefix}{number}-{sequence}"
            sequence += 1
            event: dict[str, Any] = {
                "id": event_id,
                "name": "response-quality",
                "trace_id": hex_id(32),
                "span_id": hex_id(16),
                "value": "up" if sequence % 3 else "down",
                "user_id": f"user-{number}",
                "comment": f"sender {number} event {sequence}",
            }
            with load.lock:
                load.attempted[event_id] = event
            try:
                response = client.post("/v1/feedback", json=event)
            except httpx.TransportError:
                with load.lock:
                    load.transport_errors += 1
                return
            if response.status_code == 200 and response.json()["results"] == [
                {"id": event_id, "status": "created"}
            ]:
                with load.lock:
                    load.acknowledged.add(event_id)
            else:
                with load.lock:
                    load.other_answers.append(f"{response.status_code} {response.text[:200]}")


def post_one(client: httpx.Client, event: dict[str, Any]) -> str:
    response = client.post("/v1/feedback", json=event)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == 1 and results[0]["id"] == event["id"], results
    status: str = results[0]["status"]
    return status


def test_acknowledged_feedback_survives_sigkill_exactly_once(
    servers: list[ServerProcess],
    database_url: str,
    token: str,
    engine: Engine,
    tmp_path: Path,
    unique: str,
) -> None:
    prefix = f"dur-{unique}-"
    server = start(servers, database_url, tmp_path)
    load, stop = Load(), threading.Event()
    threads = [
        threading.Thread(target=sender, args=(server.url, token, prefix, n, load, stop))
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60  # polled, not slept: a loaded machine acknowledges slower
    while time.monotonic() < deadline:
        with load.lock:
            acknowledged_before_kill = len(load.acknowledged)
        if acknowledged_before_kill >= 100:
            break
        time.sleep(0.05)
    server.kill()  # SIGKILL while all eight senders are in the middle of their loops
    for thread in threads:
        thread.join(timeout=15)
    stop.set()
    assert not any(thread.is_alive() for thread in threads)

    assert load.other_answers == []
    assert acknowledged_before_kill >= 100, "too little load to prove anything"
    # every sender was cut off by the kill, none stopped on its own
    assert load.transport_errors == len(threads)

    restarted = start(servers, database_url, tmp_path)
    counts = rows_per_id(engine, prefix)
    lost = sorted(load.acknowledged - counts.keys())
    assert lost == [], f"{len(lost)} acknowledged events are missing after kill -9: {lost[:5]}"
    assert {counts[i] for i in load.acknowledged} == {1}
    assert set(counts) <= set(load.attempted), "rows appeared that no client sent"
    assert history_rows(engine, prefix) == 0
    unacknowledged = sorted(set(load.attempted) - load.acknowledged)
    # at most the requests in flight at the kill can be stored without an acknowledgement
    assert len(set(counts) - load.acknowledged) <= len(unacknowledged) <= len(threads)

    sample = sorted(load.acknowledged)[:: max(1, len(load.acknowledged) // 25)]
    with httpx.Client(
        base_url=restarted.url, headers={"authorization": f"Bearer {token}"}, timeout=10
    ) as client:
        for event_id in sample:
            sent = load.attempted[event_id]
            stored = client.get(f"/v1/feedback/{event_id}").json()
            assert stored["id"] == event_id
            assert stored["value"] == (1 if sent["value"] == "up" else -1)
            assert stored["comment"] == sent["comment"]
            assert stored["trace_id"] == sent["trace_id"]
            assert stored["revision"] == 1 and stored["history"] == []

        # a client that never saw its answer retries: acknowledged ones are duplicates,
        # the ones cut off are stored now or were already; nothing is stored twice
        total_before = sum(counts.values())
        retried = sorted(load.acknowledged)[:: max(1, len(load.acknowledged) // 50)]
        assert {post_one(client, load.attempted[i]) for i in retried} == {"duplicate"}
        for event_id in unacknowledged:
            expected = "duplicate" if event_id in counts else "created"
            assert post_one(client, load.attempted[event_id]) == expected
    after = rows_per_id(engine, prefix)
    assert set(after.values()) == {1}
    assert set(after) == load.acknowledged | set(unacknowledged)
    assert sum(after.values()) == total_before + len(set(unacknowledged) - counts.keys())
    assert history_rows(engine, prefix) == 0


def test_concurrent_retries_of_one_event_store_it_once(
    servers: list[ServerProcess],
    database_url: str,
    token: str,
    engine: Engine,
    tmp_path: Path,
    unique: str,
) -> None:
    prefix = f"retry-{unique}-"
    server = start(servers, database_url, tmp_path)
    events: list[dict[str, Any]] = [
        {"id": f"{prefix}{n}", "name": "stars", "trace_id": hex_id(32), "value": n % 5 + 1}
        for n in range(25)
    ]
    statuses: dict[str, list[str]] = {e["id"]: [] for e in events}
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def retry_all() -> None:
        try:
            with httpx.Client(
                base_url=server.url, headers={"authorization": f"Bearer {token}"}, timeout=10
            ) as client:
                for event in events:
                    barrier.wait(timeout=10)
                    status = post_one(client, event)
                    statuses[event["id"]].append(status)
        except BaseException as error:
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=retry_all) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    for event_id, seen in statuses.items():
        assert sorted(seen) == ["created"] + ["duplicate"] * 5, (event_id, seen)
    assert rows_per_id(engine, prefix) == {e["id"]: 1 for e in events}
    assert history_rows(engine, prefix) == 0


def test_pending_feedback_survives_restart_and_links_when_the_span_arrives(
    servers: list[ServerProcess],
    database_url: str,
    token: str,
    tmp_path: Path,
    unique: str,
) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    # The app answers a user inside a trace; the span is held back (as a batching exporter
    # would), so the user's feedback reaches Plaudit first.
    held = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": f"app-{unique}"}))
    provider.add_span_processor(SimpleSpanProcessor(held))
    tracer = provider.get_tracer("durability-test")
    with (
        tracer.start_as_current_span(
            "support-agent", attributes={"plaudit.capability": "support-agent"}
        ) as root,
        tracer.start_as_current_span(
            "chat gpt-4o-mini",
            attributes={
                "plaudit.capability": "support-agent",
                "plaudit.step": "respond",
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.conversation.id": f"conv-{unique}",
            },
        ) as respond,
    ):
        pass
    trace_id = format(root.get_span_context().trace_id, "032x")
    span_id = format(respond.get_span_context().span_id, "016x")
    finished = held.get_finished_spans()
    assert len(finished) == 2

    ids = {
        "full": f"pend-{unique}-full",
        "span-only": f"pend-{unique}-span",
        "trace-only": f"pend-{unique}-trace",
        "own-capability": f"pend-{unique}-own",
    }
    events = [
        {"id": ids["full"], "name": "response-quality", "trace_id": trace_id,
         "span_id": span_id, "value": "down", "comment": "made up a refund policy"},
        {"id": ids["span-only"], "name": "copied", "span_id": span_id},
        {"id": ids["trace-only"], "name": "resolved", "trace_id": trace_id, "value": False},
        {"id": ids["own-capability"], "name": "stars", "span_id": span_id, "value": 2,
         "capability": "billing-agent"},
    ]  # fmt: skip
    headers = {"authorization": f"Bearer {token}"}

    first = start(servers, database_url, tmp_path)
    with httpx.Client(base_url=first.url, headers=headers, timeout=10) as client:
        response = client.post("/v1/feedback", json={"feedback": events})
        assert response.status_code == 200
        assert [r["status"] for r in response.json()["results"]] == ["created"] * 4
        for event_id in ids.values():
            stored = client.get(f"/v1/feedback/{event_id}").json()
            assert stored["link_status"] == "pending"
        assert client.get(f"/v1/feedback/{ids['full']}").json()["step"] is None
    # uvicorn shuts down gracefully, then re-raises the signal: the exit status says SIGTERM
    assert first.terminate() in (0, -signal.SIGTERM)

    second = start(servers, database_url, tmp_path)
    with httpx.Client(base_url=second.url, headers=headers, timeout=10) as client:
        # kept across the restart, still waiting for the span
        for event_id in ids.values():
            assert client.get(f"/v1/feedback/{event_id}").json()["link_status"] == "pending"
        assert client.get(f"/v1/traces/{trace_id}").status_code == 404

        exporter = OTLPSpanExporter(
            endpoint=f"{second.url}/v1/traces", headers={"Authorization": f"Bearer {token}"}
        )
        assert exporter.export(finished) is SpanExportResult.SUCCESS
        exporter.shutdown()  # type: ignore[no-untyped-call]

        full = client.get(f"/v1/feedback/{ids['full']}").json()
        assert full["link_status"] == "linked"
        assert (full["capability"], full["step"]) == ("support-agent", "respond")
        assert full["value"] == -1 and full["comment"] == "made up a refund policy"

        span_only = client.get(f"/v1/feedback/{ids['span-only']}").json()
        assert span_only["link_status"] == "linked"
        assert span_only["trace_id"] == trace_id, "the trace is filled in from the span"
        assert (span_only["capability"], span_only["step"]) == ("support-agent", "respond")

        trace_only = client.get(f"/v1/feedback/{ids['trace-only']}").json()
        assert trace_only["link_status"] == "linked"

        own = client.get(f"/v1/feedback/{ids['own-capability']}").json()
        assert own["link_status"] == "linked"
        assert (own["capability"], own["step"]) == ("billing-agent", "respond"), (
            "a capability the client sent is kept; only what is missing is filled"
        )

        tree = client.get(f"/v1/traces/{trace_id}").json()
        (root_span,) = tree["spans"]
        (respond_span,) = root_span["children"]
        assert respond_span["span_id"] == span_id
        assert sorted(e["id"] for e in respond_span["feedback"]) == sorted(
            [ids["full"], ids["span-only"], ids["own-capability"]]
        )
        assert [e["id"] for e in tree["feedback"]] == [ids["trace-only"]]
        listed = client.get("/v1/feedback", params={"trace_id": trace_id, "limit": 10}).json()
        assert {e["link_status"] for e in listed["items"]} == {"linked"}
        assert len(listed["items"]) == 4
    provider.shutdown()
