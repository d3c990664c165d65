"""Ingest benchmark: start `plaudit serve` as a user would, load it, print figures vs their targets.

    python bench/ingest.py                  # SQLite, about 10 s per phase
    python bench/ingest.py --quick --json   # a few seconds per phase, machine-readable
    python bench/ingest.py --postgres       # PostgreSQL at 127.0.0.1:5432, fresh schema
    python bench/ingest.py --footprint      # also measure the installed footprint
    python bench/ingest.py --postgres --workers 4   # `plaudit serve --workers 4`
    python bench/ingest.py --matrix --quick         # SQLite, then PostgreSQL with 1, 2, N workers

Phases, in order, against one server on one fresh database:

  start   process start until /readyz answers 200 on an empty database; RSS at rest
  otlp    POST /v1/traces (protobuf, 100 traces x 10 spans per request); after each
          acknowledgement one of its traces is read back at once with GET /v1/traces/{id}
  grpc    the same exports over OTLP/gRPC (TraceService/Export; bench/ingest_grpc.py)
  paced   single feedback events offered at a fixed 1,000 req/s (open loop): p99 latency
  single  single feedback events as fast as a fixed number of connections go (wrk)
  batch   batches of 500 feedback events over several connections
  sequential  one connection sending one event and waiting for each durable answer
  verify  kill -9 the server, then count in the database what it acknowledged
  storage bytes on disk per feedback event and per span, with each table's and index's share
  alone   the store without HTTP: the same batches validated and written by the writer
          in-process, on a second fresh database, so the distance to the limit is visible

Feedback targets spans stored by the otlp phase, as in real use where the trace comes first.
Every event has a unique id, so the database must hold each acknowledged event exactly once.
"""

from __future__ import annotations

import abc
import argparse
import asyncio
import contextlib
import dataclasses
import http.client
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

T = TypeVar("T")

REPO = Path(__file__).resolve().parent.parent
TRACES_PER_REQUEST = 100
SPANS_PER_TRACE = 10
BATCH_SIZE = 500
PACED_RATE = 1_000
MB = 1_000_000  # figures are in MB of 10^6 bytes, the stricter reading of a megabyte
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


# ---------------------------------------------------------------------------------------------
# Figures and their targets


@dataclass(frozen=True)
class Target:
    """A target figure: at least (higher is better) or at most `limit`."""

    limit: float
    at_least: bool

    def met(self, value: float) -> bool:
        return value >= self.limit if self.at_least else value <= self.limit

    def describe(self, unit: str) -> str:
        return f"{'≥' if self.at_least else '≤'} {_number(self.limit)} {unit}".rstrip()


@dataclass
class Metric:
    """One measured figure; `target` is None for figures shown only to explain others."""

    name: str
    label: str
    value: float | None
    unit: str
    target: Target | None = None

    @property
    def ok(self) -> bool | None:
        if self.target is None or self.value is None:
            return None
        return self.target.met(self.value)


TARGETS: dict[str, Target] = {
    "ready_s": Target(1.5, at_least=False),
    "rss_idle_mb": Target(150, at_least=False),
    "otlp_spans_per_s": Target(30_000, at_least=True),
    "otlp_unqueryable": Target(0, at_least=False),
    "otlp_grpc_spans_per_s": Target(30_000, at_least=True),
    "paced_p99_ms": Target(20, at_least=False),
    "single_rps": Target(3_000, at_least=True),
    "batch_events_per_s": Target(50_000, at_least=True),
    "rss_load_mb": Target(400, at_least=False),
    "events_lost": Target(0, at_least=False),
    "events_duplicated": Target(0, at_least=False),
    "spans_lost": Target(0, at_least=False),
    "requests_failed": Target(0, at_least=False),
    "footprint_mb": Target(120, at_least=False),
    "sequential_p50_ms": Target(0.5, at_least=False),
}


def _number(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    if abs(value) < 10:
        return f"{value:.2f}"
    return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation: a value that was actually observed)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))]


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Ids. Trace k and span j of it are computed the same way here and in the wrk Lua script, so
# feedback can target spans stored earlier. The scramble spreads ids over the B-tree as real
# random ids do; its small factor keeps LuaJIT's doubles exact.


def _mix(n: int, seed: int) -> int:
    return (n * 69069 + seed * 12345) % 2**32


def trace_hex(k: int) -> str:
    return f"{_mix(k, 1):08x}{_mix(k, 2):08x}{_mix(k, 3):08x}{k + 1:08x}"


def span_hex(k: int, j: int) -> str:
    n = k * 16 + j
    return f"{_mix(n, 4):08x}{n + 1:08x}"


# ---------------------------------------------------------------------------------------------
# The server process


@dataclass
class Server:
    """A `plaudit serve` process and where it listens."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    grpc_port: int = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL the server and its worker processes: no graceful shutdown."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def plaudit_executable() -> Path:
    """The `plaudit` command installed beside this Python, else the one on PATH."""
    beside = Path(sys.executable).parent / "plaudit"
    if beside.exists():
        return beside
    found = shutil.which("plaudit")
    if found is None:
        raise SystemExit("`plaudit` is not installed: pip install -e . first")
    return Path(found)


def start_server(url: str, workdir: Path, workers: int = 1) -> tuple[Server, float]:
    """Start `plaudit serve` and return it with the monotonic time just before the spawn."""
    port, grpc_port = free_port(), free_port()
    log = workdir / "server.log"
    command = [str(plaudit_executable()), "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--database-url", url, "--grpc-port", str(grpc_port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    began = time.monotonic()
    with log.open("wb") as sink:
        # A session of its own, so that kill -9 reaches every worker process at once.
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True
        )
    return Server(process, port, log, grpc_port), began


def _readyz_status(port: int) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/readyz")
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def wait_ready(server: Server, began: float, timeout: float = 60.0) -> float:
    """Seconds from spawn until /readyz first answers 200 (polled every 5 ms)."""
    while time.monotonic() - began < timeout:
        if server.process.poll() is not None:
            raise SystemExit(f"plaudit serve exited early:\n{server.log_tail()}")
        if _readyz_status(server.port) == 200:
            return time.monotonic() - began
        time.sleep(0.005)
    raise SystemExit(f"plaudit serve was not ready after {timeout:.0f} s:\n{server.log_tail()}")


def writer_commits(port: int) -> float:
    """The server's count of group commits so far, from /metrics (nan if unavailable)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
    except OSError:
        return math.nan
    finally:
        connection.close()
    found = re.search(r"^plaudit_writer_commits(?:_total)? ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else math.nan


def create_token(url: str, project: str = "default") -> str:
    """An admin token, made with the CLI exactly as the README tells a user to."""
    command = [str(plaudit_executable()), "token", "create", "--json", "--database-url", url]
    command += ["--project", project, "--scope", "admin"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"plaudit token create failed:\n{done.stderr}")
    token: str = json.loads(done.stdout)["token"]
    return token


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in task.read_text().split()]
    return found


def _rss_of(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def rss_bytes(pid: int) -> int:
    """Resident memory of the server and any processes it started."""
    return _rss_of(pid) + sum(rss_bytes(child) for child in _children(pid))


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, stolen) CPU seconds of the whole machine since boot, all cores and processes.

    Busy counts user, system and interrupt time; steal (a hypervisor giving this VM's time to
    another) is apart: both take CPU from the server without showing in any process here.
    """
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads and live worker processes
    (`--workers`) included."""
    own = 0.0
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(child) for child in _children(pid))


def wait_for_idle_machine(limit: float, server_pid: int) -> None:
    """Wait up to `limit` seconds until the rest of the machine has been idle for 3 s in a row.

    On a shared machine another job can take a core; starting a timed phase then would measure
    the neighbour, not Plaudit. (The server itself, idle between phases, is not counted.)
    """
    deadline, calm = time.monotonic() + limit, 0
    while time.monotonic() < deadline and calm < 3:
        busy, server = machine_cpu_seconds()[0], cpu_seconds(server_pid)
        time.sleep(1.0)
        others = machine_cpu_seconds()[0] - busy - (cpu_seconds(server_pid) - server)
        calm = calm + 1 if others < 0.1 else 0
    if calm < 3:
        progress(f"the machine was still busy after {limit:g} s of waiting; measuring anyway")


def postgres_cpu_seconds() -> dict[int, float]:
    """CPU seconds of each PostgreSQL process on this machine, by pid.

    With PostgreSQL the database's work happens in its own processes; counting them apart keeps
    it from being mistaken for unrelated load. (It includes any other use of that cluster.)
    """
    found: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            head, tail = stat.read_text().rsplit(")", 1)
            if head.endswith("(postgres"):
                fields = tail.split()
                found[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf(
                    "SC_CLK_TCK"
                )
    return found


class RssSampler(threading.Thread):
    """Samples the server's RSS every 100 ms and keeps the peak since the last reset."""

    def __init__(self, pid: int) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.pid = pid
        self.peak = 0
        self.overall_peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.1):
            rss = rss_bytes(self.pid)
            self.peak = max(self.peak, rss)
            self.overall_peak = max(self.overall_peak, rss)

    def reset(self) -> None:
        self.peak = rss_bytes(self.pid)

    def stop(self) -> None:
        self._stop_event.set()


# ---------------------------------------------------------------------------------------------
# Databases: made fresh for the run, read back directly at the end, removed afterwards.


class Store(abc.ABC):
    """The database the server writes to, read directly (not through the API) to verify it."""

    url: str
    kind: str

    @abc.abstractmethod
    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """The result of a read-only SQL statement."""

    def cleanup(self) -> None:  # noqa: B027 - most stores live in the run's temporary folder
        """Remove what the run created beyond the temporary folder (nothing by default)."""

    @abc.abstractmethod
    def sizes(self) -> list[tuple[str, str, int]]:
        """(table or index, its table, bytes on disk) for every table and index."""


class SqliteStore(Store):
    kind = "sqlite"

    def __init__(self, workdir: Path) -> None:
        self.path = workdir / "plaudit.db"
        self.url = f"sqlite:///{self.path}"

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        # Opened read-write: after a kill -9 SQLite may need to recover the WAL on open.
        connection = sqlite3.connect(self.path)
        try:
            return connection.execute(sql).fetchall()
        finally:
            connection.close()

    def sizes(self) -> list[tuple[str, str, int]]:
        self.rows("PRAGMA wal_checkpoint(TRUNCATE)")  # what the WAL holds, in the main file
        found = self.rows(
            "SELECT s.name, coalesce(m.tbl_name, s.name), sum(s.pgsize) FROM dbstat s"
            " LEFT JOIN sqlite_master m ON m.name = s.name GROUP BY s.name"
        )
        return [(str(name), str(table), int(size)) for name, table, size in found]


def repository_on_path() -> None:
    """Make `bench.…` importable: run as a script, bench/ is on the path, not the repository."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


class PostgresStore(Store):
    kind = "postgresql"

    def __init__(self, base_url: str) -> None:
        import psycopg  # a dependency of plaudit; imported here so SQLite runs never need it

        repository_on_path()
        from bench.scratch import scratch_schema

        self._psycopg = psycopg
        self._schema = contextlib.ExitStack()  # the schema's lifetime is the store's
        self.url = self._schema.enter_context(scratch_schema(base_url))

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with self._psycopg.connect(self.url) as connection:
            return list(connection.execute(sql).fetchall())

    def sizes(self) -> list[tuple[str, str, int]]:
        # pg_table_size counts a table's TOAST, free-space and visibility maps; an index is its
        # own relation.
        found = self.rows(
            "SELECT c.relname, coalesce(t.relname, c.relname),"
            " CASE WHEN c.relkind = 'i' THEN pg_relation_size(c.oid) ELSE pg_table_size(c.oid) END"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_index i ON i.indexrelid = c.oid"
            " LEFT JOIN pg_class t ON t.oid = i.indrelid"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i')"
        )
        return [(str(name), str(table), int(size)) for name, table, size in found]

    def cleanup(self) -> None:
        self._schema.close()


# ---------------------------------------------------------------------------------------------
# A minimal HTTP/1.1 client. Requests are pre-encoded bytes on keep-alive connections, so a
# request costs the load generator tens of microseconds and the CPU is left to the server.


def http_request(
    method: str, path: str, token: str, body: bytes = b"", content_type: str = "application/json"
) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
    if body or method in ("POST", "PUT", "PATCH"):
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:\s*chunked", re.IGNORECASE)


# A connection that breaks mid-request: the request's fate is unknown (it may have been stored).
WIRE_ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


class Http:
    """One keep-alive connection to the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = time.monotonic()

    @classmethod
    async def connect(cls, port: int) -> Http:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send one request; the answer's status and body."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        if length := _LENGTH.search(head):
            body = await self.reader.readexactly(int(length.group(1)))
        elif _CHUNKED.search(head):
            body = await self._chunks()
        else:
            body = b""
        self.used = time.monotonic()
        return status, body

    async def _chunks(self) -> bytes:
        parts: list[bytes] = []
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)
        await self.reader.readuntil(b"\r\n")
        return b"".join(parts)

    def close(self) -> None:
        self.writer.close()


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop when it is there (it is a plaudit dependency): a cheaper load generator."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


# ---------------------------------------------------------------------------------------------
# What was acknowledged, to hold against the database at the end.


@dataclass
class Ledger:
    """Feedback ids of one id prefix: acknowledged as created, and sent without an answer."""

    acked: int = 0
    ids: set[str] | None = field(default_factory=set)  # None: only the count is known (wrk)
    unanswered: set[str] = field(default_factory=set)
    not_created: int = 0  # a fresh id answered "duplicate" or "revised": a server bug
    failed: int = 0  # answered with an error or a rejection


class _Result(msgspec.Struct):
    id: str | None = None
    status: str = ""


class _Answer(msgspec.Struct):
    results: list[_Result]


_decode_answer = msgspec.json.Decoder(_Answer).decode


def record_feedback_answer(ledger: Ledger, ids: list[str], status: int, body: bytes) -> None:
    """Book the server's answer for the events `ids` of one request."""
    if status != 200:
        ledger.failed += len(ids)
        ledger.unanswered.update(ids)  # an error answer leaves their fate unknown
        return
    results = _decode_answer(body).results
    for sent, result in zip(ids, results, strict=True):
        if result.status == "created" and result.id == sent:
            ledger.acked += 1
            if ledger.ids is not None:
                ledger.ids.add(sent)
        elif result.status in ("duplicate", "revised"):
            ledger.not_created += 1
            ledger.unanswered.add(sent)
        else:
            ledger.failed += 1


# ---------------------------------------------------------------------------------------------
# Request bodies


class FeedbackMaker:
    """Feedback events with unique ids, spread over the spans stored by the otlp phase."""

    def __init__(self, prefix: str, n_traces: int) -> None:
        self.prefix = prefix
        self.n_traces = max(1, n_traces)
        self.counter = 0
        self._encode = msgspec.json.Encoder().encode

    def event(self) -> dict[str, Any]:
        self.counter += 1
        n = self.counter
        k = _mix(n, 7) % self.n_traces
        event: dict[str, Any] = {
            "id": f"{self.prefix}-{n}",
            "trace_id": trace_hex(k),
            "span_id": span_hex(k, n % SPANS_PER_TRACE),
            "user_id": f"user-{n % 5000}",
            "metadata": {"plan": ("free", "pro", "team")[n % 3], "app_version": "2.4.1"},
        }
        event.update(self._reaction(n))
        return event

    @staticmethod
    def _reaction(n: int) -> dict[str, Any]:
        # A mix like a real app's: mostly thumbs, some stars, copies and corrections.
        bucket = n % 20
        if bucket < 12:
            if n % 5:
                return {"name": "response-quality", "value": "up"}
            return {
                "name": "response-quality",
                "value": "down",
                "comment": "It ignored my question about refunds.",
                "tags": ["thumbs-down"],
            }
        if bucket < 16:
            return {"name": "star-rating", "value": 1 + n % 5}
        if bucket < 19:
            return {"name": "copy"}
        return {
            "name": "user_edit",
            "kind": "correction",
            "value": "Refunds reach your card within 5 business days.",
        }

    def single(self) -> tuple[str, bytes]:
        event = self.event()
        return event["id"], self._encode(event)

    def batch(self, size: int) -> tuple[list[str], bytes]:
        events = [self.event() for _ in range(size)]
        return [e["id"] for e in events], self._encode({"feedback": events})


_SPAN_SHAPES: list[tuple[str, int, int, dict[str, Any]]] = [
    # (name, kind, parent index, attributes); the root carries what feedback is grouped by.
    ("chat support-agent", Span.SPAN_KIND_SERVER, -1,
     {"plaudit.capability": "support-agent", "plaudit.step": "respond",
      "gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": "conv-1",
      "enduser.id": "user-42"}),
    ("retrieve", Span.SPAN_KIND_INTERNAL, 0,
     {"plaudit.capability": "support-agent", "plaudit.step": "retrieve"}),
    ("embeddings text-embedding-3-small", Span.SPAN_KIND_CLIENT, 1,
     {"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small",
      "gen_ai.usage.input_tokens": 18}),
    ("vector search", Span.SPAN_KIND_CLIENT, 1,
     {"db.system.name": "qdrant", "db.operation.name": "search"}),
    ("rerank", Span.SPAN_KIND_INTERNAL, 1, {"rerank.top_k": 5}),
    ("chat gpt-4o", Span.SPAN_KIND_CLIENT, 0,
     {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
      "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
      "gen_ai.usage.input_tokens": 812, "gen_ai.usage.output_tokens": 164}),
    ("execute_tool lookup_order", Span.SPAN_KIND_INTERNAL, 0,
     {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order"}),
    ("GET /orders/{id}", Span.SPAN_KIND_CLIENT, 6,
     {"http.request.method": "GET", "http.response.status_code": 200}),
    ("chat gpt-4o", Span.SPAN_KIND_CLIENT, 0,
     {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
      "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 1024,
      "gen_ai.usage.output_tokens": 220}),
    ("moderate", Span.SPAN_KIND_INTERNAL, 0, {"moderation.flagged": False}),
]  # fmt: skip


def _any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    return AnyValue(string_value=str(value))


class TraceMaker:
    """OTLP export requests of fresh traces: one message is built once and only its ids and
    times are rewritten per request, so making a body costs little next to sending it."""

    def __init__(self) -> None:
        self.next_trace = 0
        self.message = ExportTraceServiceRequest()
        resource_spans = self.message.resource_spans.add()
        resource_spans.resource.attributes.extend(
            [KeyValue(key="service.name", value=_any_value("support-bot"))]
        )
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = "plaudit.bench"
        for _ in range(TRACES_PER_REQUEST):
            for name, kind, _parent, attributes in _SPAN_SHAPES:
                span = scope_spans.spans.add(name=name, kind=kind)
                span.status.CopyFrom(Status(code=Status.STATUS_CODE_OK))
                span.attributes.extend(
                    KeyValue(key=key, value=_any_value(value)) for key, value in attributes.items()
                )
        self.spans = scope_spans.spans

    def next(self) -> tuple[list[str], bytes]:
        """Trace ids and the protobuf body of the next request."""
        now = time.time_ns()
        trace_ids = []
        for t in range(TRACES_PER_REQUEST):
            k = self.next_trace
            self.next_trace += 1
            trace_id = trace_hex(k)
            trace_ids.append(trace_id)
            self._fill(t, bytes.fromhex(trace_id), k, now)
        return trace_ids, self.message.SerializeToString()

    def _fill(self, t: int, trace_id: bytes, k: int, now: int) -> None:
        ids = [bytes.fromhex(span_hex(k, j)) for j in range(SPANS_PER_TRACE)]
        for j, (_name, _kind, parent, _attributes) in enumerate(_SPAN_SHAPES):
            span = self.spans[t * SPANS_PER_TRACE + j]
            span.trace_id = trace_id
            span.span_id = ids[j]
            span.parent_span_id = ids[parent] if parent >= 0 else b""
            span.start_time_unix_nano = now - 900_000_000 + j * 50_000_000
            span.end_time_unix_nano = now - 10_000_000 * j


def count_spans(tree: list[dict[str, Any]]) -> int:
    return sum(1 + count_spans(span.get("children", [])) for span in tree)


# ---------------------------------------------------------------------------------------------
# Phases. Each runs in this process (not the server's) and reports what it saw.


@dataclass
class OtlpOutcome:
    spans: int = 0
    seconds: float = 0.0
    requests: int = 0
    latencies: list[float] = field(default_factory=list)
    traces: set[str] = field(default_factory=set)
    rejected_spans: int = 0
    failed: int = 0
    checked: int = 0
    unqueryable: int = 0


async def _otlp_worker(
    port: int, token: str, deadline: float, maker: TraceMaker, out: OtlpOutcome
) -> None:
    connection = await Http.connect(port)
    loop = asyncio.get_running_loop()
    try:
        while loop.time() < deadline:
            trace_ids, body = maker.next()
            request = http_request("POST", "/v1/traces", token, body, "application/x-protobuf")
            sent = time.perf_counter()
            try:
                status, answer = await connection.send(request)
            except WIRE_ERRORS:
                connection.close()
                connection = await Http.connect(port)
                status, answer = 0, b""
            out.latencies.append(time.perf_counter() - sent)
            out.requests += 1
            if status != 200:
                out.failed += 1
                continue
            rejected = ExportTraceServiceResponse.FromString(answer).partial_success.rejected_spans
            out.rejected_spans += rejected
            out.spans += len(trace_ids) * SPANS_PER_TRACE - rejected
            out.traces.update(trace_ids)
            await _check_queryable(connection, token, trace_ids[out.requests % len(trace_ids)], out)
    finally:
        connection.close()


async def _check_queryable(connection: Http, token: str, trace_id: str, out: OtlpOutcome) -> None:
    """Acknowledged spans must be readable at once: fetch one trace right after the ack."""
    status, body = await connection.send(http_request("GET", f"/v1/traces/{trace_id}", token))
    out.checked += 1
    if status != 200 or count_spans(json.loads(body)["spans"]) != SPANS_PER_TRACE:
        out.unqueryable += 1


async def otlp_phase(port: int, token: str, seconds: float, connections: int) -> OtlpOutcome:
    maker, out = TraceMaker(), OtlpOutcome()
    loop = asyncio.get_running_loop()
    start = loop.time()
    workers = [_otlp_worker(port, token, start + seconds, maker, out) for _ in range(connections)]
    await asyncio.gather(*workers)
    out.seconds = loop.time() - start
    return out


@dataclass
class LoadOutcome:
    """A feedback phase: requests answered, events acknowledged, latencies in seconds."""

    requests: int = 0
    events: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    client: str = "python"


class Pool:
    """Keep-alive connections for an open-loop client: grows when all are busy."""

    # uvicorn closes a keep-alive connection idle for 5 s; one idle for longer than this is
    # replaced before use rather than risk writing into a connection the server is closing.
    MAX_IDLE = 3.0

    def __init__(self, port: int, limit: int) -> None:
        self.port = port
        self.limit = limit
        self.opened = 0
        self.idle: asyncio.Queue[Http] = asyncio.Queue()

    async def fill(self, count: int) -> None:
        for _ in range(count):
            self.opened += 1
            self.idle.put_nowait(await Http.connect(self.port))

    async def take(self) -> Http:
        if self.idle.empty() and self.opened < self.limit:
            self.opened += 1
            return await Http.connect(self.port)
        connection = await self.idle.get()
        if time.monotonic() - connection.used > self.MAX_IDLE:
            connection.close()
            return await Http.connect(self.port)
        return connection

    def give_back(self, connection: Http | None) -> None:
        """Return a connection after use, or None for one that broke (and was closed)."""
        if connection is None:
            self.opened -= 1
        else:
            self.idle.put_nowait(connection)

    def close(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait().close()


async def paced_phase(
    port: int, token: str, rate: float, seconds: float, maker: FeedbackMaker, ledger: Ledger
) -> LoadOutcome:
    """Offer `rate` single-event requests per second whatever the answers do (open loop).

    Latency is counted from when a request was due, not when it left, so a stall in the server
    shows in the percentiles instead of silently lowering the offered rate.
    """
    bodies = [maker.single() for _ in range(int(rate * seconds))]
    requests = [(i, http_request("POST", "/v1/feedback", token, b)) for i, b in bodies]
    pool, out = Pool(port, limit=512), LoadOutcome()
    await pool.fill(32)

    async def one(event_id: str, request: bytes, due: float) -> None:
        connection: Http | None = await pool.take()
        assert connection is not None
        try:
            status, body = await connection.send(request)
        except WIRE_ERRORS:
            connection.close()
            connection, status, body = None, 0, b""
        out.latencies.append(time.perf_counter() - due)
        pool.give_back(connection)
        record_feedback_answer(ledger, [event_id], status, body)

    start = time.perf_counter() + 0.05
    tasks: list[asyncio.Task[None]] = []
    for index, (event_id, request) in enumerate(requests):
        due = start + index / rate
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(one(event_id, request, due)))
    await asyncio.gather(*tasks)
    out.seconds = time.perf_counter() - start
    out.requests = out.events = len(requests)
    pool.close()
    return out


async def _closed_loop_worker(
    port: int,
    deadline: float,
    make: Callable[[], tuple[list[str], bytes]],
    ledger: Ledger,
    out: LoadOutcome,
) -> None:
    connection = await Http.connect(port)
    loop = asyncio.get_running_loop()
    try:
        while loop.time() < deadline:
            ids, request = make()
            # Not loop.time(): uvloop's clock moves in whole milliseconds, too coarse for a
            # latency whose target is half of one.
            sent = time.perf_counter()
            try:
                status, body = await connection.send(request)
            except WIRE_ERRORS:
                connection.close()
                connection = await Http.connect(port)
                status, body = 0, b""
            out.latencies.append(time.perf_counter() - sent)
            out.requests += 1
            before = ledger.acked
            record_feedback_answer(ledger, ids, status, body)
            out.events += ledger.acked - before
    finally:
        connection.close()


async def closed_loop_phase(
    port: int,
    seconds: float,
    connections: int,
    make: Callable[[], tuple[list[str], bytes]],
    ledger: Ledger,
) -> LoadOutcome:
    """Each connection sends its next request as soon as the previous one is answered."""
    out = LoadOutcome()
    loop = asyncio.get_running_loop()
    start = loop.time()
    workers = [
        _closed_loop_worker(port, start + seconds, make, ledger, out) for _ in range(connections)
    ]
    await asyncio.gather(*workers)
    out.seconds = loop.time() - start
    return out


def feedback_requests(
    maker: FeedbackMaker, token: str, size: int | None
) -> Callable[[], tuple[list[str], bytes]]:
    """A maker of whole requests: one event (size None) or a batch of `size`."""

    def make() -> tuple[list[str], bytes]:
        if size is None:
            event_id, body = maker.single()
            return [event_id], http_request("POST", "/v1/feedback", token, body)
        ids, body = maker.batch(size)
        return ids, http_request("POST", "/v1/feedback", token, body)

    return make


# wrk: one feedback event per request with a fresh id (prefix-thread-counter). An id leaves
# `pending` only when the server answers that it created it, so at the end `pending` holds
# exactly the ids sent and never acknowledged (cut off when the run stopped, or failed).
WRK_SCRIPT = r"""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local function mix(n, seed)
  return (n * 69069 + seed * 12345) % 4294967296
end

function init(args)
  prefix = args[1]
  n_traces = tonumber(args[2])
  counter, acked, failed, pending = 0, 0, 0, {}
end

function request()
  counter = counter + 1
  local id = string.format("%s-%d-%d", prefix, tid, counter)
  local k = mix(tid * 100000000 + counter, 7) % n_traces
  local s = k * 16 + counter % 10
  local reaction = '"value":"up"'
  if counter % 5 == 0 then
    reaction = '"value":"down","comment":"It ignored my question about refunds.",'
      .. '"tags":["thumbs-down"]'
  end
  local body = string.format(
    '{"id":"%s","trace_id":"%08x%08x%08x%08x","span_id":"%08x%08x",'
      .. '"name":"response-quality",%s,"user_id":"user-%d",'
      .. '"metadata":{"plan":"pro","app_version":"2.4.1"}}',
    id, mix(k, 1), mix(k, 2), mix(k, 3), k + 1, mix(s, 4), s + 1, reaction, counter % 5000)
  pending[id] = true
  return wrk.format("POST", "/v1/feedback", nil, body)
end

function response(status, headers, body)
  local id = string.match(body, '"id":"([^"]+)","status":"created"')
  if status == 200 and id ~= nil and pending[id] then
    pending[id] = nil
    acked = acked + 1
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local acked_all, failed_all, ids = 0, 0, {}
  for _, thread in ipairs(threads) do
    acked_all = acked_all + thread:get("acked")
    failed_all = failed_all + thread:get("failed")
    for id, _ in pairs(thread:get("pending")) do
      table.insert(ids, '"' .. id .. '"')
    end
  end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"acked":%d,"failed":%d,'
      .. '"errors":%d,"p50_us":%d,"p99_us":%d,"pending":[%s]}\n',
    summary.requests, summary.duration, acked_all, failed_all,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), table.concat(ids, ",")))
end
"""


@dataclass
class WrkSummary:
    """What wrk's done() printed."""

    requests: int
    duration_us: int
    acked: int
    failed: int  # answered, but not "created" (error statuses included)
    errors: int  # never answered: connect, read and write errors, timeouts
    p50_us: int
    p99_us: int
    pending: list[str]


class WrkLoad:
    """Single events at fixed concurrency, driven by wrk (C, epoll) to spare the CPU."""

    def __init__(self, connections: int, threads: int, n_traces: int, workdir: Path) -> None:
        self.connections = connections
        self.threads = threads
        self.n_traces = max(1, n_traces)
        self.script = workdir / "single-event.lua"
        self.script.write_text(WRK_SCRIPT)

    def command(self, port: int, token: str, seconds: float) -> list[str]:
        return [
            "wrk", f"-t{self.threads}", f"-c{self.connections}", f"-d{max(1, round(seconds))}s",
            "--timeout", "10s", "-s", str(self.script),
            "-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/json",
            f"http://127.0.0.1:{port}/v1/feedback", "--", "w", str(self.n_traces),
        ]  # fmt: skip

    def run(self, port: int, token: str, seconds: float, ledger: Ledger) -> LoadOutcome:
        done = subprocess.run(
            self.command(port, token, seconds), capture_output=True, text=True, check=False
        )
        line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
        if done.returncode != 0 or line is None:
            raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        summary = msgspec.json.decode(line.removeprefix("BENCH_JSON "), type=WrkSummary)
        ledger.ids = None  # wrk tells how many were acknowledged, and which were not
        ledger.acked += summary.acked
        ledger.failed += summary.failed + summary.errors
        ledger.unanswered.update(summary.pending)
        out = LoadOutcome(requests=summary.requests, events=summary.acked, client="wrk")
        out.seconds = summary.duration_us / 1e6
        out.latencies = [summary.p50_us / 1e6, summary.p99_us / 1e6]  # its two percentiles
        return out


# ---------------------------------------------------------------------------------------------
# Profiling (optional): py-spy records the server during each phase.


@contextlib.contextmanager
def profiled(pid: int, directory: Path | None, phase: str) -> Iterator[None]:
    """Record the server's stacks with py-spy during a phase, if `directory` is given."""
    if directory is None:
        yield
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    output = directory / f"{phase}.txt"
    command = [spy, "record", "--pid", str(pid), "--format", "raw", "--threads"]
    command += ["--rate", "97", "--nonblocking", "--output", str(output)]
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes its output when interrupted
        with contextlib.suppress(subprocess.TimeoutExpired):
            recorder.wait(timeout=30)
        progress(f"profile of {phase}: {output}")


# ---------------------------------------------------------------------------------------------
# Verification: the database against the ledgers.


@dataclass
class Verdict:
    events_acked: int = 0
    events_stored: int = 0
    events_lost: int = 0
    events_duplicated: int = 0
    spans_acked: int = 0
    spans_lost: int = 0
    link_status: dict[str, int] = field(default_factory=dict)


def _check_prefix(ledger: Ledger, stored: set[str], verdict: Verdict) -> None:
    settled = stored - ledger.unanswered  # stored ids whose answer we know was "created"
    if ledger.ids is None:  # wrk: a count, exact because every id is unique
        verdict.events_lost += max(0, ledger.acked - len(settled))
        verdict.events_duplicated += max(0, len(settled) - ledger.acked)
    else:
        verdict.events_lost += len(ledger.ids - stored)
        verdict.events_duplicated += len(settled - ledger.ids)
    verdict.events_duplicated += ledger.not_created


def verify(store: Store, ledgers: dict[str, Ledger], traces: set[str]) -> Verdict:
    """Count what the database holds; each acknowledged event and span must be there once."""
    verdict = Verdict()
    by_prefix: dict[str, set[str]] = {prefix: set() for prefix in ledgers}
    for (event_id,) in store.rows("SELECT id FROM feedback WHERE project = 'default'"):
        by_prefix.setdefault(event_id.split("-", 1)[0], set()).add(event_id)
        verdict.events_stored += 1
    for prefix, ledger in ledgers.items():
        verdict.events_acked += ledger.acked
        _check_prefix(ledger, by_prefix.pop(prefix), verdict)
    verdict.events_duplicated += sum(len(ids) for ids in by_prefix.values())  # never sent
    history = store.rows("SELECT count(*) FROM feedback_history WHERE project = 'default'")
    verdict.events_duplicated += int(history[0][0])  # fresh ids never have a past version
    spans = dict(
        store.rows(
            "SELECT trace_id, count(*) FROM spans WHERE project = 'default' GROUP BY trace_id"
        )
    )
    verdict.spans_acked = len(traces) * SPANS_PER_TRACE
    verdict.spans_lost = sum(max(0, SPANS_PER_TRACE - int(spans.get(t, 0))) for t in traces)
    verdict.link_status = dict(
        store.rows(
            "SELECT link_status, count(*) FROM feedback WHERE project = 'default'"
            " GROUP BY link_status"
        )
    )
    return verdict


# ---------------------------------------------------------------------------------------------
# Storage, and the store alone

FEEDBACK_TABLES = frozenset(
    {"feedback", "feedback_history", "feedback_rollup", "feedback_metadata_rollup"}
)
SPAN_TABLES = frozenset({"spans", "span_messages", "span_enrichments", "trace_enrichments"})


def store_alone(url: str, seconds: float, n_traces: int, threads: int) -> dict[str, float]:
    """Events/s of batches validated and written through the server's own writer on `threads`
    threads, then the p50 of single events written one at a time: the server without HTTP."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    from plaudit.core.privacy import PiiMode
    from plaudit.core.validation import validate_feedback
    from plaudit.store.database import create_database_engine
    from plaudit.store.feedback import StoreFeedback
    from plaudit.store.migrate import upgrade
    from plaudit.store.writer import Writer

    engine = create_database_engine(url)
    upgrade(engine)
    writer = Writer(engine)
    writer.start()
    maker = FeedbackMaker("a", n_traces)

    def write(size: int) -> None:
        now = datetime.now(UTC)
        events = []
        for _ in range(size):
            event = validate_feedback(
                maker.event(), pointer="", now=now, configs={}, check_nul=False
            )
            assert not isinstance(event, list), event  # the maker makes valid events only
            events.append(event)
        writer.write_sync(StoreFeedback("default", events, now, None, pii=PiiMode.REDACT))

    def batches(deadline: float) -> int:
        written = 0
        while time.monotonic() < deadline:
            write(BATCH_SIZE)
            written += BATCH_SIZE
        return written

    try:
        began = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            written = sum(pool.map(batches, [began + seconds] * threads))
        batch_rate = _per_second(written, time.monotonic() - began)
        latencies: list[float] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            sent = time.monotonic()
            write(1)
            latencies.append(time.monotonic() - sent)
    finally:
        writer.stop()
        engine.dispose()
    return {
        "batch_events_per_s": batch_rate,
        "sequential_p50_ms": _ms(percentile(latencies, 0.5)),
        "sequential_requests": len(latencies),
    }


# ---------------------------------------------------------------------------------------------
# Installed footprint


def _tree_size(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


_TOOLING = ("pip", "setuptools", "_distutils_hack", "pkg_resources", "distutils-precedence")


def measure_footprint(workdir: Path) -> tuple[float, dict[str, float]]:
    """MB that `pip install plaudit` (no extras) adds to a fresh venv's site-packages.

    pip itself (and setuptools, where the venv brings it) is the venv's tooling, not plaudit's,
    so it is left out of the total and shown apart.
    """
    venv = workdir / "footprint-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    # The SDK is its own distribution (clients/python), a dependency resolved from the checkout.
    sdk = str(REPO / "clients" / "python")
    subprocess.run([*pip, "--disable-pip-version-check", sdk, str(REPO)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    sizes: dict[str, float] = {}
    for entry in site.iterdir():
        size = _tree_size(entry) if entry.is_dir() else entry.lstat().st_size
        sizes[entry.name] = size / MB
    runtime = sum(v for k, v in sizes.items() if not k.lower().startswith(_TOOLING))
    largest = dict(sorted(sizes.items(), key=lambda item: -item[1])[:12])
    return runtime, largest


# ---------------------------------------------------------------------------------------------
# The run


@dataclass
class Options:
    seconds: float
    as_json: bool
    postgres: str | None
    footprint: bool
    connections: int
    batch_connections: int
    otlp_connections: int
    wrk_threads: int
    rate: float
    profile: Path | None
    keep: bool
    wait_idle: float
    nice: int
    workers: int = 1
    matrix: bool = False


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _per_second(count: float, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


class Bench:
    """One run: the server under test, what was acknowledged, and the figures measured."""

    def __init__(self, options: Options, store: Store, workdir: Path) -> None:
        self.options = options
        self.store = store
        self.workdir = workdir
        self.metrics: list[Metric] = []
        self.details: dict[str, Any] = {"database": store.kind}
        self.ledgers = {prefix: Ledger() for prefix in ("u", "r", "w", "b", "q")}
        self.traces: set[str] = set()
        self.failed_requests = 0

    def add(self, name: str, label: str, value: float | None, unit: str) -> None:
        self.metrics.append(Metric(name, label, value, unit, TARGETS.get(name)))

    # -- start ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start on the empty database (readiness includes migrating it), then make a token."""
        if self.options.wait_idle > 0:
            wait_for_idle_machine(self.options.wait_idle, server_pid=0)  # no server yet
        progress(f"start: plaudit serve on a fresh {self.store.kind} database")
        self.server, began = start_server(self.store.url, self.workdir, self.options.workers)
        ready = wait_ready(self.server, began)
        self.add("ready_s", "ready after start, fresh database", round(ready, 3), "s")
        progress(f"start: /readyz answered 200 after {ready:.2f} s")
        # The token is made after the readiness measurement so that the database is really empty
        # when the server starts; the server looks a new token up on its first use.
        self.token = create_token(self.store.url)
        time.sleep(1.0)  # let start-up settle before reading the idle figure
        idle = rss_bytes(self.server.pid)
        self.add("rss_idle_mb", "server RSS idle", round(idle / MB, 1), "MB")
        progress(f"start: RSS idle {idle / MB:.1f} MB")
        self.sampler = RssSampler(self.server.pid)
        self.sampler.start()

    def stop(self) -> None:
        if hasattr(self, "sampler"):
            self.sampler.stop()
        if hasattr(self, "server") and self.server.process.poll() is None:
            self.server.kill()

    def warm_up(self) -> None:
        """A few requests first, so that one-off costs (imports, caches) are not timed."""
        port, token, ledger = self.server.port, self.token, self.ledgers["u"]

        async def go() -> None:
            connection = await Http.connect(port)
            maker = FeedbackMaker("u", 1)
            for size in [None] * 20 + [50]:
                ids, request = feedback_requests(maker, token, size)()
                record_feedback_answer(ledger, ids, *await connection.send(request))
            connection.close()

        run_async(go())

    # -- phases --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[dict[str, Any]]:
        """Measure a phase's resource use into details[name], profiling it if asked to."""
        details: dict[str, Any] = {}
        usage = phase_usage(self.server.pid, self.sampler, self.store.kind == "postgresql")
        commits = writer_commits(self.server.port)
        with profiled(self.server.pid, self.options.profile, name):
            yield details
        self.details[name] = {**details, **usage()}
        commits = writer_commits(self.server.port) - commits
        if commits > 0 and details.get("units"):
            # How well group commit amortises the fsync: units of work per durable commit.
            self.details[name]["commits"] = int(commits)
            self.details[name]["units_per_commit"] = round(details["units"] / commits, 1)
        if units := details.get("units"):
            # CPU per unit of work barely depends on what else the machine runs, unlike
            # throughput; one core divided by it is the ceiling of a GIL-bound server.
            cost = self.details[name]["server_cpu_s"] / units
            self.details[name]["server_cpu_us_per_unit"] = round(cost * 1e6, 1)

    def otlp(self) -> None:
        o = self.options
        progress(f"otlp: {o.otlp_connections} connections for {o.seconds:g} s, "
                 f"{TRACES_PER_REQUEST} traces x {SPANS_PER_TRACE} spans per request")  # fmt: skip
        with self.phase("otlp") as details:
            out = run_async(otlp_phase(self.server.port, self.token, o.seconds, o.otlp_connections))
            details.update(
                requests=out.requests, spans=out.spans, seconds=round(out.seconds, 2),
                units=out.spans, failed_requests=out.failed, rejected_spans=out.rejected_spans,
                traces_read_back=out.checked, p50_ms=_ms(percentile(out.latencies, 0.5)),
                p99_ms=_ms(percentile(out.latencies, 0.99)),
            )  # fmt: skip
        rate = _per_second(out.spans, out.seconds)
        self.add("otlp_spans_per_s", "OTLP spans/s (protobuf, queryable at ack)", rate, "spans/s")
        self.add("otlp_unqueryable", "acked traces not readable at once", out.unqueryable, "")
        self.traces = out.traces
        self.failed_requests += out.failed
        progress(f"otlp: {rate:,.0f} spans/s; {out.checked} traces read back, "
                 f"{out.unqueryable} incomplete")  # fmt: skip
        self.otlp_grpc()

    def otlp_grpc(self) -> None:
        repository_on_path()
        from bench.ingest_grpc import grpc_phase

        o, server = self.options, self.server
        progress(f"grpc: {o.otlp_connections} channels for {o.seconds:g} s, same exports")
        with self.phase("otlp_grpc") as details:
            out = grpc_phase(server.grpc_port, server.port, self.token, o.seconds,
                             o.otlp_connections)  # fmt: skip
            details.update(requests=out.requests, spans=out.spans, units=out.spans,
                           failed_requests=out.failed, unqueryable=out.unqueryable,
                           p50_ms=_ms(percentile(out.latencies, 0.5)), error=out.error)  # fmt: skip
        rate = None if out.error else _per_second(out.spans, out.seconds)
        self.add("otlp_grpc_spans_per_s", "OTLP/gRPC spans/s (same exports)", rate, "spans/s")
        self.failed_requests += out.failed + out.unqueryable
        progress(f"grpc: {out.error or f'{rate:,.0f} spans/s beside HTTP'}")

    def paced(self) -> None:
        o = self.options
        progress(f"paced: {o.rate:,.0f} single-event req/s offered for {o.seconds:g} s")
        maker = FeedbackMaker("r", len(self.traces))
        with self.phase("paced") as details:
            phase = paced_phase(
                self.server.port, self.token, o.rate, o.seconds, maker, self.ledgers["r"]
            )
            out = run_async(phase)
            achieved = _per_second(out.requests, out.seconds)
            details.update(
                offered_rps=o.rate, achieved_rps=achieved, requests=out.requests,
                units=out.requests, max_ms=_ms(max(out.latencies, default=0.0)),
            )  # fmt: skip
        p50, p99 = _ms(percentile(out.latencies, 0.5)), _ms(percentile(out.latencies, 0.99))
        self.add("paced_p99_ms", f"p99 latency at {o.rate:,.0f} req/s offered", p99, "ms")
        self.add("paced_p50_ms", f"p50 latency at {o.rate:,.0f} req/s offered", p50, "ms")
        progress(f"paced: p50 {p50} ms, p99 {p99} ms at {achieved:,.0f} req/s")

    def single(self) -> None:
        o = self.options
        client = "wrk" if shutil.which("wrk") else "python"
        if client == "python":
            progress("single: wrk not found (apt-get install -y wrk); using the Python client")
        progress(f"single: {o.connections} connections for {o.seconds:g} s ({client})")
        ledger, n_traces = self.ledgers["w"], len(self.traces)
        with self.phase("single") as details:
            if client == "wrk":
                load = WrkLoad(o.connections, o.wrk_threads, n_traces, self.workdir)
                out = load.run(self.server.port, self.token, o.seconds, ledger)
            else:
                make = feedback_requests(FeedbackMaker("w", n_traces), self.token, None)
                phase = closed_loop_phase(self.server.port, o.seconds, o.connections, make, ledger)
                out = run_async(phase)
            details.update(client=client, requests=out.requests, acked=out.events,
                           units=out.requests, seconds=round(out.seconds, 2))  # fmt: skip
        rps = _per_second(out.requests, out.seconds)
        self.add("single_rps", f"single-event req/s, {o.connections} connections", rps, "req/s")
        self.add(
            "single_p50_ms", "single-event p50 latency", _ms(percentile(out.latencies, 0.5)), "ms"
        )
        self.add(
            "single_p99_ms", "single-event p99 latency", _ms(percentile(out.latencies, 0.99)), "ms"
        )
        progress(f"single: {rps:,.0f} req/s")

    def batch(self) -> None:
        o = self.options
        progress(f"batch: {BATCH_SIZE} events per request, {o.batch_connections} connections "
                 f"for {o.seconds:g} s")  # fmt: skip
        make = feedback_requests(FeedbackMaker("b", len(self.traces)), self.token, BATCH_SIZE)
        with self.phase("batch") as details:
            phase = closed_loop_phase(
                self.server.port, o.seconds, o.batch_connections, make, self.ledgers["b"]
            )
            out = run_async(phase)
            details.update(
                requests=out.requests, events=out.events, seconds=round(out.seconds, 2),
                units=out.events, p50_ms=_ms(percentile(out.latencies, 0.5)),
                p99_ms=_ms(percentile(out.latencies, 0.99)),
            )  # fmt: skip
        rate = _per_second(out.events, out.seconds)
        self.add(
            "batch_events_per_s", f"feedback events/s in batches of {BATCH_SIZE}", rate, "events/s"
        )
        progress(f"batch: {rate:,.0f} events/s")

    def sequential(self) -> None:
        o = self.options
        progress(f"sequential: one connection, one event per request, for {o.seconds:g} s")
        make = feedback_requests(FeedbackMaker("q", len(self.traces)), self.token, None)
        with self.phase("sequential") as details:
            phase = closed_loop_phase(self.server.port, o.seconds, 1, make, self.ledgers["q"])
            out = run_async(phase)
            details.update(requests=out.requests, units=out.requests, seconds=round(out.seconds, 2))
        p50 = _ms(percentile(out.latencies, 0.5))
        self.add("sequential_p50_ms", "one connection, one event per request: p50", p50, "ms")
        progress(f"sequential: p50 {p50} ms")

    # -- the end -------------------------------------------------------------------------------

    def verify(self) -> None:
        """Kill -9 the server, then check that everything acknowledged was durably stored."""
        self.details["rss_after_load_mb"] = round(rss_bytes(self.server.pid) / MB, 1)
        self.server.kill()  # no graceful shutdown: acknowledged means committed
        progress("verify: server killed with SIGKILL; counting rows in the database")
        verdict = verify(self.store, self.ledgers, self.traces)
        failed = self.failed_requests + sum(ledger.failed for ledger in self.ledgers.values())
        self.add(
            "events_lost", "acknowledged events missing after kill -9", verdict.events_lost, ""
        )
        self.add(
            "events_duplicated", "events stored twice or not as sent", verdict.events_duplicated, ""
        )
        self.add("spans_lost", "acknowledged spans missing after kill -9", verdict.spans_lost, "")
        self.add("requests_failed", "requests or events answered with an error", failed, "")
        self.details["verify"] = asdict(verdict)
        progress(f"verify: {verdict.events_stored:,} events stored, {verdict.events_acked:,} "
                 f"acknowledged, {verdict.events_lost} lost; {verdict.spans_acked:,} spans "
                 f"acknowledged, {verdict.spans_lost} lost")  # fmt: skip

    def footprint(self) -> None:
        if not self.options.footprint:
            self.add("footprint_mb", "installed footprint (--footprint to measure)", None, "MB")
            return
        progress("footprint: pip install into a fresh venv (takes a while)")
        size, largest = measure_footprint(self.workdir)
        self.add(
            "footprint_mb", "installed footprint (site-packages, no extras)", round(size, 1), "MB"
        )
        self.details["footprint_largest_mb"] = {k: round(v, 1) for k, v in largest.items()}
        progress(f"footprint: {size:.1f} MB")

    def run(self) -> None:
        """Every phase in order; the under-load RSS peak counts from the first timed phase."""
        self.start()
        self.warm_up()
        self.sampler.overall_peak = 0
        for phase in (self.otlp, self.paced, self.single, self.batch, self.sequential):
            if self.options.wait_idle > 0:
                wait_for_idle_machine(self.options.wait_idle, self.server.pid)
            phase()
        peak = round(self.sampler.overall_peak / MB, 1)
        self.add("rss_load_mb", "server RSS peak under load", peak, "MB")
        self.verify()
        self.storage()
        self.alone()

    def storage(self) -> None:
        """Bytes on disk per event and per span, and each table's and index's share of them."""
        stored = self.details["verify"]
        sizes = self.store.sizes()
        per: dict[str, float | None] = {}
        shares: dict[str, dict[str, Any]] = {}
        for side, tables, count in (
            ("event", FEEDBACK_TABLES, stored["events_stored"]),
            ("span", SPAN_TABLES, stored["spans_acked"] - stored["spans_lost"]),
        ):
            mine = [(name, table, size) for name, table, size in sizes if table in tables]
            total = sum(size for _, _, size in mine)
            per[side] = round(total / count) if count else None
            for name, table, size in sorted(mine, key=lambda row: -row[2]):
                shares[name] = {
                    "of": side, "table": table, "bytes": size,
                    "share": round(size / total, 3) if total else 0.0,
                }  # fmt: skip
        self.add("bytes_per_event", "bytes on disk per feedback event", per["event"], "B")
        self.add("bytes_per_span", "bytes on disk per span", per["span"], "B")
        self.details["storage"] = shares
        progress(f"storage: {per['event']} B per event, {per['span']} B per span")

    def alone(self) -> None:
        """The same batches and single events through the writer in-process, with no HTTP."""
        o = self.options
        progress(f"alone: the store without HTTP on a second fresh {self.store.kind} database")
        store: Store = (
            PostgresStore(o.postgres) if o.postgres else SqliteStore(self.workdir / "alone")
        )
        try:
            out = store_alone(store.url, o.seconds, len(self.traces), o.batch_connections)
        finally:
            store.cleanup()
        self.add("alone_batch_events_per_s", "store alone: events/s in batches of "
                 f"{BATCH_SIZE}", out["batch_events_per_s"], "events/s")  # fmt: skip
        self.add("alone_sequential_p50_ms", "store alone: one event per commit, p50",
                 out["sequential_p50_ms"], "ms")  # fmt: skip
        self.details["alone"] = out
        progress(f"alone: {out['batch_events_per_s']:,.0f} events/s batched, "
                 f"p50 {out['sequential_p50_ms']} ms one by one")  # fmt: skip


def phase_usage(pid: int, sampler: RssSampler, postgres: bool) -> Callable[[], dict[str, float]]:
    """Start measuring CPU (server, database, load generator, others) and peak RSS; call to
    read them."""
    sampler.reset()
    began, server_cpu, own = time.monotonic(), cpu_seconds(pid), os.times()
    busy, stolen = machine_cpu_seconds()
    database_before = postgres_cpu_seconds() if postgres else {}

    def read() -> dict[str, float]:
        wall = time.monotonic() - began
        now = os.times()
        client = sum(now[:4]) - sum(own[:4])  # this process and the children it waited for (wrk)
        server = cpu_seconds(pid) - server_cpu
        database = 0.0
        if postgres:
            database = sum(
                cpu - database_before.get(p, 0.0) for p, cpu in postgres_cpu_seconds().items()
            )
        # Whatever else ran on the machine meanwhile competed with the server: shown so that a
        # figure taken on a busy machine is recognised as such.
        busy_now, stolen_now = machine_cpu_seconds()
        others = max(0.0, busy_now - busy - server - client - database)
        steal = stolen_now - stolen
        if (others + steal) / wall > 0.25:
            progress(f"warning: other processes used {others / wall:.2f} cores during this phase"
                     f" (and the hypervisor {steal / wall:.2f})")  # fmt: skip
        return {
            "server_cpu_s": round(server, 3),
            "server_cpu_cores": round(server / wall, 2),
            "client_cpu_cores": round(client / wall, 2),
            "database_cpu_cores": round(database / wall, 2),
            "other_cpu_cores": round(others / wall, 2),
            "steal_cores": round(steal / wall, 2),
            "peak_rss_mb": round(sampler.peak / MB, 1),
        }

    return read


def run_benchmark(options: Options, workdir: Path) -> Bench:
    store: Store = PostgresStore(options.postgres) if options.postgres else SqliteStore(workdir)
    bench = Bench(options, store, workdir)
    try:
        bench.run()
    finally:
        bench.stop()
        store.cleanup()
    bench.footprint()
    return bench


# ---------------------------------------------------------------------------------------------
# Output


def _shown(metric: Metric) -> str:
    if metric.value is None:
        return "skipped"
    return f"{_number(metric.value)} {metric.unit}".rstrip()


def table(bench: Bench) -> str:
    """The figures as a plain-text table: metric, measured, target, ok/missed."""
    rows = [("metric", "measured", "target", "result")]
    for metric in bench.metrics:
        target = metric.target.describe(metric.unit) if metric.target else ""
        result = {True: "ok", False: "MISSED", None: ""}[metric.ok]
        rows.append((metric.label, _shown(metric), target, result))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def _aligned(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in rows]  # fmt: skip
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def side_by_side(benches: list[Bench]) -> str:
    """One row per figure, one column per configuration, the target last."""
    heads = [f"{b.store.kind} x{b.options.workers}" for b in benches]
    rows: list[tuple[str, ...]] = [("metric", *heads, "target")]
    for index, metric in enumerate(benches[0].metrics):
        cells = []
        for bench in benches:
            same = bench.metrics[index] if index < len(bench.metrics) else None
            mark = " !" if same is not None and same.ok is False else ""
            cells.append(_shown(same) + mark if same is not None else "")
        target = metric.target.describe(metric.unit) if metric.target else ""
        rows.append((metric.label, *cells, target))
    return _aligned(rows) + "\n(! marks a missed target)"


def storage_table(bench: Bench) -> str:
    """Each table's and index's bytes and share of the bytes per event or per span."""
    rows: list[tuple[str, ...]] = [("table or index", "of", "bytes", "share")]
    for name, row in bench.details.get("storage", {}).items():
        rows.append((name, f"per {row['of']}", f"{row['bytes']:,}", f"{row['share']:.1%}"))
    return _aligned(rows)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    with contextlib.suppress(OSError):
        cpuinfo = Path("/proc/cpuinfo").read_text()
        model = next(
            (
                x.split(":", 1)[1].strip()
                for x in cpuinfo.splitlines()
                if x.startswith("model name")
            ),
            "",
        )
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def report(bench: Bench) -> dict[str, Any]:
    """The machine-readable form (--json)."""
    metrics = {
        m.name: {
            "label": m.label,
            "value": m.value,
            "unit": m.unit,
            "target": asdict(m.target) if m.target else None,
            "ok": m.ok,
        }
        for m in bench.metrics
    }
    return {
        "database": bench.store.kind,
        "seconds_per_phase": bench.options.seconds,
        "machine": machine(),
        "metrics": metrics,
        "details": bench.details,
    }


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="about 2 s per phase (for tests)")
    parser.add_argument("--seconds", type=float, help="seconds per phase (default 10, quick 2)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--postgres", nargs="?", const=DEFAULT_POSTGRES, metavar="URL",
                        help=f"PostgreSQL instead of SQLite (default URL {DEFAULT_POSTGRES}); "
                        "the run uses a fresh schema and drops it")  # fmt: skip
    parser.add_argument("--footprint", action="store_true", help="also measure the installed size")
    parser.add_argument("--connections", type=int, default=64, help="single-event connections")
    parser.add_argument("--batch-connections", type=int, default=4)
    parser.add_argument("--otlp-connections", type=int, default=4)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--rate", type=float, default=PACED_RATE, help="paced phase req/s")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="plaudit serve --workers N (PostgreSQL only)")  # fmt: skip
    parser.add_argument("--matrix", action="store_true",
                        help="run SQLite, then PostgreSQL with 1, 2 and --workers N processes "
                        "(default N: 4), and print them side by side")  # fmt: skip
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy each phase into DIR")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                        help="before each phase, wait up to SECONDS for other processes on the "
                        "machine to go idle (for shared machines)")  # fmt: skip
    parser.add_argument("--nice", type=int, default=0,
                        help="run the benchmark, the server and wrk at this niceness (negative "
                        "needs root): on a shared machine it keeps other jobs from taking the "
                        "server's CPU")  # fmt: skip
    args = parser.parse_args(argv)
    if args.workers > 1 and not (args.postgres or args.matrix):
        parser.error("--workers needs --postgres: one server process serves a SQLite file")
    if args.matrix and args.workers == 1:
        args.workers = 4
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    return Options(
        seconds=seconds, as_json=args.json, postgres=args.postgres,
        footprint=args.footprint, connections=args.connections,
        batch_connections=args.batch_connections, otlp_connections=args.otlp_connections,
        wrk_threads=args.wrk_threads, rate=args.rate, profile=args.profile, keep=args.keep,
        wait_idle=args.wait_idle, nice=args.nice, workers=args.workers, matrix=args.matrix,
    )  # fmt: skip


@contextlib.contextmanager
def priority(nice: int) -> Iterator[None]:
    """Run this process and what it starts (server, wrk, CLI) at `nice`, then restore it.

    With the kernel's autogroup scheduling (on by default) CPU is shared fairly between
    sessions whatever a process's own niceness, so the niceness of this session's autogroup is
    set too; children inherit both.
    """
    autogroup = Path("/proc/self/autogroup")
    before = None
    with contextlib.suppress(OSError, ValueError):
        before = int(autogroup.read_text().split("nice")[1])
        autogroup.write_text(str(nice))
    os.setpriority(os.PRIO_PROCESS, 0, nice)
    try:
        yield
    finally:
        if before is not None:
            with contextlib.suppress(OSError):
                autogroup.write_text(str(before))


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `finally`s that stop the server


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    benches = [run_in_workdir(one) for one in configurations(options)]
    if options.as_json:
        reports = [report(bench) for bench in benches]
        print(json.dumps(reports if options.matrix else reports[0], indent=2))
    elif options.matrix:
        print(f"Plaudit ingest benchmark, side by side: {os.cpu_count()} CPUs, "
              f"{options.seconds:g} s per phase\n")  # fmt: skip
        print(side_by_side(benches))
    else:
        bench = benches[0]
        print(f"Plaudit ingest benchmark: {bench.store.kind}, {options.workers} process(es), "
              f"{os.cpu_count()} CPUs, {options.seconds:g} s per phase\n")  # fmt: skip
        print(table(bench))
        print("\n" + storage_table(bench))
    # Speed targets are reported, not enforced; losing acknowledged data is a failure.
    integrity = ("events_lost", "events_duplicated", "spans_lost", "otlp_unqueryable")
    lost = any(m.ok is False for b in benches for m in b.metrics if m.name in integrity)
    return 1 if lost else 0


def configurations(options: Options) -> list[Options]:
    """One run's options, or the matrix's: SQLite, then PostgreSQL with 1, 2 and N workers."""
    if not options.matrix:
        return [options]
    postgres = options.postgres or DEFAULT_POSTGRES
    counts = sorted({1, 2, options.workers})
    sqlite = dataclasses.replace(options, postgres=None, workers=1)
    return [sqlite] + [
        dataclasses.replace(options, postgres=postgres, workers=n, footprint=False) for n in counts
    ]


def run_in_workdir(options: Options) -> Bench:
    workdir = Path(tempfile.mkdtemp(prefix="plaudit-bench-"))
    try:
        with priority(options.nice) if options.nice else contextlib.nullcontext():
            return run_benchmark(options, workdir)
    finally:
        if options.keep:
            progress(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
