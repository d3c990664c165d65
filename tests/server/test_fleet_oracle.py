"""Three server processes on one PostgreSQL database leave what one process would.

Hypothesis draws a schedule of writes (feedback created, revised and deleted; spans that link
waiting feedback), split over three client threads. The threads run their parts at once against
three `plaudit serve` processes sharing a database, chosen at random per request; then the same
parts run one after the other against a single server on a database of its own. Each event id
that is revised or deleted belongs to one thread; ids every thread may create race with the same
content (one must be created, the rest are duplicates); posting a span twice changes nothing. So
the end state does not depend on how the threads interleave: events, their history, links and
both rollups must match.
"""

import hashlib
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, select

from plaudit.store.schema import (
    feedback,
    feedback_history,
    feedback_metadata_rollup,
    feedback_rollup,
)
from tests.conftest import free_port, fresh_database, make_tokens
from tests.server.test_several_processes import _wait_ready

pytestmark = pytest.mark.postgres_only
THREADS = 3
DAY = "2026-12-01T10:00:00Z"  # one fixed day: the rollup cells do not depend on when this runs


@dataclass(frozen=True)
class Step:
    """One request of a thread's part of the schedule."""

    thread: int
    action: str  # "put", "delete", "shared" or "spans"
    key: int  # the event (per thread) or the trace
    span: int
    value: int


steps = st.builds(
    Step,
    thread=st.integers(0, THREADS - 1),
    action=st.sampled_from(["put", "put", "put", "delete", "shared", "spans"]),
    key=st.integers(0, 3),
    span=st.integers(0, 2),
    value=st.integers(0, 4),
)


@dataclass
class Servers:
    """Where to send requests, with one token for all of them, and the database behind."""

    urls: list[str]
    token: str
    engine: Engine

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request as a client should: a 503 (not stored; the server is catching up)
        is retried after its Retry-After, which on a busy 2-core machine does happen."""
        headers = {"authorization": f"Bearer {self.token}"}
        for _ in range(5):
            url = random.choice(self.urls) + path
            answer = httpx.request(method, url, headers=headers, timeout=30, **kwargs)
            if answer.status_code != 503:
                break
            time.sleep(float(answer.headers.get("retry-after", "1")))
        assert answer.status_code < 500, answer.text
        return answer


@pytest.fixture(scope="module")
def fleet(dialect: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with fresh_database(dialect, tmp_path_factory.mktemp("fleet")) as url:
        token = make_tokens(url)[0]
        ports = [free_port() for _ in range(THREADS)]
        command = [sys.executable, "-m", "plaudit", "serve", "--database-url", url]
        processes = [
            subprocess.Popen([*command, "--port", str(port)], stderr=subprocess.DEVNULL)
            for port in ports
        ]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        engine = create_engine(url)
        try:
            for server in urls:
                assert _wait_ready(server), f"{server} did not start"
            yield Servers(urls, token, engine)
        finally:
            _stop(processes)
            engine.dispose()


@pytest.fixture(scope="module")
def single(dialect: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """The oracle: one server process on a database of its own."""
    with fresh_database(dialect, tmp_path_factory.mktemp("single")) as url:
        token = make_tokens(url)[0]
        port = free_port()
        command = [sys.executable, "-m", "plaudit", "serve", "--database-url", url]
        process = subprocess.Popen([*command, "--port", str(port)], stderr=subprocess.DEVNULL)
        engine = create_engine(url)
        try:
            assert _wait_ready(f"http://127.0.0.1:{port}"), "the single server did not start"
            yield Servers([f"http://127.0.0.1:{port}"], token, engine)
        finally:
            _stop([process])
            engine.dispose()


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        process.wait(timeout=30)


def trace_of(run: str, key: int) -> str:
    return hashlib.sha256(f"{run}/{key}".encode()).hexdigest()[:32]


def span_of(run: str, key: int, span: int) -> str:
    return hashlib.sha256(f"{run}/{key}/{span}".encode()).hexdigest()[:16]


def perform(servers: Servers, run: str, step: Step) -> None:
    """Send one step; its answer is read back from the database afterwards, not here."""
    if step.action == "spans":
        servers.call("POST", "/v1/traces", json=_spans(run, step.key))
        return
    event_id = f"{run}-t{step.thread}-{step.key}"
    if step.action == "shared":  # any thread, the same content: created once, whoever wins
        event_id = f"{run}-shared-{step.key}"
        step = Step(0, "put", step.key, 0, step.key)
    if step.action == "delete":
        servers.call("DELETE", f"/v1/feedback/{event_id}")
        return
    # One kind per event id: thumbs for even keys, ratings for odd ones.
    value: Any = ("up", "down")[step.value % 2] if step.key % 2 == 0 else step.value + 1
    event = {
        "id": event_id, "name": f"rq-{run}", "value": value, "timestamp": DAY,
        "trace_id": trace_of(run, step.key), "span_id": span_of(run, step.key, step.span),
        "metadata": {"plan": ("free", "pro")[step.value % 2]},
    }  # fmt: skip
    answer = servers.call("POST", "/v1/feedback", json=event)
    assert answer.status_code == 200, answer.text


def _spans(run: str, key: int) -> dict[str, Any]:
    spans = [
        {
            "traceId": trace_of(run, key), "spanId": span_of(run, key, n), "name": f"s{n}",
            "kind": 1, "startTimeUnixNano": "1000", "endTimeUnixNano": "2000",
            "attributes": [{"key": "plaudit.capability", "value": {"stringValue": f"c{n % 2}"}}],
        }
        for n in range(3)
    ]  # fmt: skip
    return {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": spans}]}]}


def end_state(engine: Engine, run: str) -> dict[str, Any]:
    """Everything the run left: its events, their history and its rollup cells."""
    name = f"rq-{run}"
    columns = [
        feedback.c[c]
        for c in ("id", "revision", "kind", "value_num", "value_text", "link_status",
                  "capability", "trace_id", "span_id", "metadata")
    ]  # fmt: skip
    with engine.connect() as connection:
        events = sorted(
            tuple(row)
            for row in connection.execute(select(*columns).where(feedback.c.name == name))
        )
        history = sorted(
            tuple(row)
            for row in connection.execute(
                select(
                    feedback_history.c.feedback_id,
                    feedback_history.c.revision,
                    feedback_history.c.operation,
                ).where(feedback_history.c.feedback_id.like(f"{run}-%"))
            )
        )
        rollups = {
            table.name: sorted(
                tuple(value for key, value in row._mapping.items() if key != "project")
                for row in connection.execute(select(table).where(table.c.name == name))
            )
            for table in (feedback_rollup, feedback_metadata_rollup)
        }
    return {"events": events, "history": history, "rollups": rollups}


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(schedule=st.lists(steps, min_size=1, max_size=24))
def test_three_processes_end_where_one_process_ends(
    fleet: Servers, single: Servers, schedule: list[Step]
) -> None:
    run = secrets.token_hex(4)
    parts = [[step for step in schedule if step.thread == t] for t in range(THREADS)]

    def play(part: list[Step]) -> None:
        for step in part:
            perform(fleet, run, step)

    threads = [threading.Thread(target=play, args=(part,)) for part in parts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for part in parts:
        for step in part:
            perform(single, run, step)

    expected = end_state(single.engine, run)
    assert expected["events"] or not any(s.action == "put" for s in schedule)
    assert end_state(fleet.engine, run) == expected


def test_the_oracle_sees_what_was_written(single: Servers) -> None:
    """The comparison above is not vacuous: a write shows in the end state it compares."""
    run = secrets.token_hex(4)
    perform(single, run, Step(0, "put", 0, 0, 0))
    perform(single, run, Step(0, "put", 0, 0, 1))  # a revision: history holds revision 1
    perform(single, run, Step(0, "spans", 0, 0, 0))
    state = end_state(single.engine, run)
    assert [(e[0], e[1], e[5], e[6]) for e in state["events"]] == [
        (f"{run}-t0-0", 2, "linked", "c0")
    ]
    assert state["history"] == [(f"{run}-t0-0", 1, "revised")]
    assert sum(row[-6] for row in state["rollups"]["feedback_rollup"]) == 1  # count
