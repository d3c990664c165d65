"""Three server processes on one PostgreSQL database, driven at once, one killed mid-run.

Afterwards the database is what one process would have left: every acknowledged event stored,
revisions numbered without gaps, every event whose span is stored linked, and every rollup equal
to one rebuilt from the events.
"""

import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, create_engine, select

from plaudit.store.rollup_writes import rebuild
from plaudit.store.schema import (
    feedback,
    feedback_history,
    feedback_metadata_rollup,
    feedback_rollup,
)
from tests.conftest import free_port, make_tokens

pytestmark = pytest.mark.postgres_only
TRACES = [f"{n:032x}" for n in range(1, 9)]


def span_id(trace: int, n: int) -> str:
    return f"{trace + 1:08x}{n + 1:08x}"


@dataclass
class Fleet:
    """Server processes on one database, and what they acknowledged."""

    urls: list[str]
    processes: list[subprocess.Popen[bytes]]
    token: str
    acknowledged: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    server_errors: list[str] = field(default_factory=list)  # and rejected items
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        url = random.choice(self.urls)
        headers = {"authorization": f"Bearer {self.token}"}
        try:
            answer = httpx.request(method, url + path, headers=headers, timeout=30, **kwargs)
        except httpx.HTTPError:
            return None  # the killed process
        if answer.status_code >= 500:
            with self.lock:
                self.server_errors.append(f"{method} {path}: {answer.status_code} {answer.text}")
        return answer


@pytest.fixture
def fleet(database_url: str, dialect: str) -> Iterator[Fleet]:
    token = make_tokens(database_url)[0]
    ports = [free_port() for _ in range(3)]
    command = [sys.executable, "-m", "plaudit", "serve", "--grpc-port", "0"]
    command += ["--database-url", database_url]
    processes = [
        subprocess.Popen([*command, "--port", str(port)], stderr=subprocess.DEVNULL)
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url in urls:
            assert _wait_ready(url), f"{url} did not start"
        yield Fleet(urls, processes, token)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)


def _wait_ready(url: str) -> bool:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def spans_body(trace: int, count: int) -> dict[str, Any]:
    spans = [
        {
            "traceId": TRACES[trace], "spanId": span_id(trace, n), "name": f"s{n}", "kind": 1,
            "startTimeUnixNano": "1000", "endTimeUnixNano": "2000",
            "attributes": [{"key": "plaudit.capability", "value": {"stringValue": f"cap{n % 3}"}}],
        }
        for n in range(count)
    ]  # fmt: skip
    return {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": spans}]}]}


def drive(fleet: Fleet, worker: int) -> None:
    rng = random.Random(worker)
    for step in range(40):
        trace = rng.randrange(len(TRACES))
        target = {"span_id": span_id(trace, rng.randrange(6)), "name": "rq"}
        shared = f"shared-{rng.randrange(25)}"  # the same ids from every worker: races
        value = rng.choice(["up", "down", 3, 4])
        batch = [
            {"id": shared, **target, "value": value, "metadata": {"plan": rng.choice("ab")}},
            {"id": f"own-{worker}-{step}", **target, "value": rng.randrange(1, 6)},
        ]
        answer = fleet.call("POST", "/v1/feedback", json={"feedback": batch})
        if answer is not None and answer.status_code == 200:
            with fleet.lock:
                fleet.acknowledged.update(
                    r["id"] for r in answer.json()["results"] if r["status"] != "rejected"
                )
                fleet.server_errors += [
                    str(r) for r in answer.json()["results"] if r["status"] == "rejected"
                ]
        if step % 7 == 0:
            fleet.call("POST", "/v1/traces", json=spans_body(trace, 6))
        if step % 11 == 0:
            doomed = f"doomed-{worker}-{step}"
            created = fleet.call("POST", "/v1/feedback", json={"id": doomed, **target, "value": 1})
            if created is not None and created.status_code == 200:
                gone = fleet.call("DELETE", f"/v1/feedback/{doomed}")
                if gone is not None and gone.status_code == 204:
                    with fleet.lock:
                        fleet.deleted.add(doomed)


def rollups(connection: Connection) -> dict[str, list[Any]]:
    return {
        table.name: sorted(tuple(row) for row in connection.execute(select(table)))
        for table in (feedback_rollup, feedback_metadata_rollup)
    }


def test_three_processes_leave_what_one_would(fleet: Fleet, database_url: str) -> None:
    workers = [threading.Thread(target=drive, args=(fleet, w)) for w in range(6)]
    for thread in workers:
        thread.start()
    deadline = time.monotonic() + 60
    while len(fleet.acknowledged) < 60:  # a quarter of the way in
        assert time.monotonic() < deadline, "the fleet acknowledged nothing"
        time.sleep(0.05)
    fleet.processes[2].kill()  # SIGKILL mid-run: the others go on
    fleet.urls = fleet.urls[:2]
    for thread in workers:
        thread.join()
    for trace in range(len(TRACES)):  # every span stored at last, through a live process
        answer = fleet.call("POST", "/v1/traces", json=spans_body(trace, 6))
        assert answer is not None and answer.status_code == 200

    assert fleet.server_errors == []
    engine = create_engine(database_url)
    with engine.connect() as connection:
        stored = dict(connection.execute(select(feedback.c.id, feedback.c.revision)).all())
        assert fleet.acknowledged - fleet.deleted <= set(stored)
        assert not fleet.deleted & set(stored)
        assert len(fleet.acknowledged) > 100
        pending = connection.scalars(
            select(feedback.c.id).where(feedback.c.link_status == "pending")
        ).all()
        assert pending == [], "feedback whose span is stored is still pending"
        history = connection.execute(
            select(feedback_history.c.feedback_id, feedback_history.c.revision).where(
                feedback_history.c.operation == "revised"
            )
        ).all()
        for event_id, revision in stored.items():
            archived = sorted(r for i, r in history if i == event_id)
            assert archived == list(range(1, revision)), event_id
        kept = rollups(connection)
    with engine.connect() as connection:
        transaction = connection.begin()
        rebuild(connection)  # what the events add up to, undone afterwards
        assert rollups(connection) == kept
        transaction.rollback()
    engine.dispose()
