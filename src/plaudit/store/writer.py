"""Group commit: one writer thread turns many concurrent requests into one durable transaction.

Every write is a `WriteOp`. Callers enqueue ops and await a future; the writer drains what is
queued, applies it in a single transaction, commits (an fsync on SQLite), and only then
resolves each caller's future. Under load a commit carries hundreds of requests, so durability
costs one fsync per group instead of one per request. Consecutive ops of the same type may be
applied together (`apply_group`), which is how feedback from many requests becomes one bulk
insert.

If a group fails, it is rolled back and each op is retried alone, so one bad op (invalid data,
a duplicate key, a statement the database refuses for its own sake) fails only its own caller —
unless the database itself failed (gone, locked, full: `is_database_fault`), which no op can
cure: then the whole group fails at once, the writer reports the fault (`failure`, read by
`/readyz`) and probes the database every second until a write succeeds again.

`stop` commits everything queued before it and answers every caller; a write after it is
refused at once (`WriterUnavailable`) instead of waiting for a thread that is gone.

On PostgreSQL, several server processes may share the database, each with its writer. Each
transaction first takes one transaction-level advisory lock, so the writers' transactions run one
at a time: ids checked as new, revisions, rollup cells and the linking of waiting feedback see
exactly what a single writer would. Each process still commits its own groups, and acknowledges
only what its own commit made durable.

Callers wait at most `deadline` seconds; an op whose caller has given up is dropped unwritten if
the writer has not started it. The writer thread is supervised: if it loses its connection, it
fails what is queued and reconnects with a backoff.
"""

import asyncio
import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Final, Generic, Self, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from plaudit.store.bulk import execute_all

T = TypeVar("T")

log = logging.getLogger(__name__)

MAX_GROUP_OPS: Final = 2_000
DEADLINE_SECONDS: Final = 10.0
PROBE_SECONDS: Final = 1.0
# A write that changes nothing but still goes through the journal: it fails while the disk is
# full or the file locked, as real writes do. alembic_version always holds exactly one row.
_PROBE: Final = text("UPDATE alembic_version SET version_num = version_num")
WRITE_LOCK: Final = 0x706C_6175_7772  # any constant; no other lock of ours uses it
_SERIALISE: Final = f"SELECT pg_advisory_xact_lock({WRITE_LOCK})"


def take_write_lock(connection: Connection) -> None:
    """On PostgreSQL, wait for the lock every writer's transaction holds (module docstring);
    a program writing beside running servers (the CLI) takes it too. Nothing on SQLite, whose
    own write lock serialises transactions already. The lock goes with the transaction's BEGIN,
    in one round trip."""
    if connection.dialect.name == "postgresql":
        execute_all(connection, [(_SERIALISE, ())])


class WriterUnavailable(Exception):
    """The writer cannot take or finish this write now; the caller should retry later."""


class WriterBusy(WriterUnavailable):
    """The write queue is full."""


class WriteTimedOut(WriterUnavailable):
    """The write was not committed within the writer's deadline (it will not be, either)."""


# Errors the drivers class as "operational" though they concern one statement, not the
# database: SQLite's result codes (the low byte of an extended code) for a statement it cannot
# run or a value too big or of the wrong type, and PostgreSQL's SQLSTATE classes for data,
# integrity, syntax and program limits (an index row too big is ProgramLimitExceeded, an
# OperationalError in psycopg). The op is at fault: the rest of its group can still commit.
_SQLITE_STATEMENT_CODES: Final = frozenset({1, 18, 19, 20, 25})  # ERROR TOOBIG CONSTRAINT …
_POSTGRES_STATEMENT_CLASSES: Final = frozenset({"22", "23", "42", "54"})


def is_database_fault(error: BaseException) -> bool:
    """Whether `error` is the database failing (unreachable, locked, full), not one op's data."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, OperationalError):
        return not _statement_error(error.orig)
    return isinstance(error, InterfaceError)


def _statement_error(cause: BaseException | None) -> bool:
    code = getattr(cause, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_STATEMENT_CODES
    state = getattr(cause, "sqlstate", None)
    return isinstance(state, str) and state[:2] in _POSTGRES_STATEMENT_CLASSES


class WriteOp(ABC, Generic[T]):
    """One unit of work for the writer thread."""

    @abstractmethod
    def apply(self, connection: Connection) -> T:
        """Do the work inside the writer's open transaction."""

    @classmethod
    def apply_group(cls, connection: Connection, ops: Sequence[Self]) -> list[T]:
        """Apply several consecutive ops of this type; override to do them in bulk."""
        return [op.apply(connection) for op in ops]

    def weight(self) -> int:
        """How much this op counts towards the queue limit (e.g. its number of rows)."""
        return 1


class _Job:
    """An op and how to tell its caller: an asyncio future (with its loop) or a thread future."""

    __slots__ = ("future", "loop", "op")

    def __init__(
        self,
        op: WriteOp[Any],
        future: "asyncio.Future[Any] | Future[Any]",
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self.op = op
        self.future = future
        self.loop = loop


_STOP: Final = object()


class Writer:
    """The single writer of a database; see the module docstring."""

    def __init__(
        self, engine: Engine, max_pending: int = 200_000, deadline: float = DEADLINE_SECONDS
    ) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._max_pending = max_pending
        self._deadline = deadline
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="plaudit-writer", daemon=True)
        self._stopping = False
        self.commits = 0
        self.ops_committed = 0
        self.failure: str | None = None
        """Why the database refused the last write (e.g. `OperationalError: database is
        locked`), until a write or a probe succeeds again; None while writes succeed."""

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def stop(self) -> None:
        """Finish what is queued, then stop the thread; later writes are refused at once."""
        with self._lock:  # an op queued before this is ahead of _STOP; none is queued after
            self._stopping = True
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        # A thread that never started or died leaves callers waiting: answer them.
        self._fail_queued(WriterUnavailable("the writer has stopped"))

    @property
    def stopping(self) -> bool:
        """Whether `stop` was called: new writes are refused."""
        return self._stopping

    @property
    def alive(self) -> bool:
        """Whether the writer thread is running."""
        return self._thread.is_alive()

    @property
    def pending(self) -> int:
        """Weight of the ops queued and not yet committed."""
        return self._pending

    def _enqueue(self, job: _Job) -> None:
        weight = job.op.weight()
        with self._lock:
            if self._stopping:
                raise WriterUnavailable("the writer is stopping")
            if self._pending + weight > self._max_pending and self._pending > 0:
                raise WriterBusy(f"{self._pending} writes are already queued")
            self._pending += weight
            self._queue.put(job)

    async def write(self, op: WriteOp[T]) -> T:
        """Queue `op` and wait, without blocking the event loop, until it is committed.

        Raises `WriteTimedOut` after the deadline: the op is then dropped unless the writer had
        already started it (so a retry with the same ids is a duplicate at worst).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._enqueue(_Job(op, future, loop))
        try:
            # asyncio.timeout cancels this task at the deadline (and with it the future, which
            # the writer then skips); wait_for would make a task per write.
            async with asyncio.timeout(self._deadline):
                return await future
        except TimeoutError:
            reason = self.failure or f"{self._pending} writes are queued"
            raise WriteTimedOut(f"not committed within {self._deadline:g} s ({reason})") from None

    def write_sync(self, op: WriteOp[T]) -> T:
        """Queue `op` and block until it is committed (for the CLI and tests)."""
        future: Future[T] = Future()
        self._enqueue(_Job(op, future, None))
        return future.result()

    def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                # One long-lived connection: no pool checkout (or PostgreSQL pre-ping round
                # trip) per commit. SQLAlchemy reconnects it on next use if the database drops it.
                with self._engine.connect() as connection:
                    self._drain(connection)
                return
            except Exception as error:  # supervised: whatever happened, fail fast and go on
                self._note(error)
                log.warning("the writer lost its database (%s); reconnecting", self.failure)
                self._fail_queued(error)
                if self._stopping:
                    return
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _next(self, connection: Connection) -> "_Job | object":
        """The next queued item; while the database is failing, probe it between items."""
        while self.failure is not None:
            try:
                return self._queue.get(timeout=PROBE_SECONDS)
            except queue.Empty:
                self._probe(connection)
        return self._queue.get()

    def _probe(self, connection: Connection) -> None:
        try:
            with connection.begin():
                connection.execute(_PROBE)
        except Exception as error:
            self._note(error)
        else:
            log.info("the database takes writes again")
            self.failure = None

    def _drain(self, connection: Connection) -> None:
        while True:
            first = self._next(connection)
            if first is _STOP:
                return
            assert isinstance(first, _Job)
            group = [first]
            stop_after = False
            while len(group) < MAX_GROUP_OPS:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop_after = True
                    break
                assert isinstance(item, _Job)
                group.append(item)
            group = self._still_awaited(group)
            if group:
                self._commit(connection, group)
            if stop_after:
                return

    def _still_awaited(self, group: list[_Job]) -> list[_Job]:
        """Drop the jobs whose caller gave up (its deadline passed) before they were started."""
        given_up = [job for job in group if job.future.done()]
        if not given_up:
            return group
        with self._lock:
            self._pending -= sum(job.op.weight() for job in given_up)
        return [job for job in group if not job.future.done()]

    def _fail_queued(self, error: BaseException) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is _STOP:
                self._stopping = True
                continue
            assert isinstance(item, _Job)
            self._finish([item], None, error)

    def _note(self, error: BaseException) -> None:
        cause = getattr(error, "orig", None) or error
        self.failure = f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}"

    def _commit(self, connection: Connection, group: list[_Job]) -> BaseException | None:
        """Commit `group`, or else its ops one by one; the database fault that stopped it, if
        one did (then every op not yet committed has failed with it)."""
        try:
            with connection.begin():
                take_write_lock(connection)
                results = _apply_all(connection, [job.op for job in group])
        except Exception as error:
            if is_database_fault(error):
                self._note(error)
                log.warning("the database refused %d ops (%s)", len(group), self.failure)
                self._finish(group, None, error)
                return error
            if len(group) == 1:
                self._finish(group, None, error)
                return None
            log.warning("group commit of %d ops failed; retrying them one by one", len(group))
            for index, job in enumerate(group):
                fault = self._commit(connection, [job])
                if fault is not None:  # no op of the rest can commit either: fail them now
                    self._finish(group[index + 1 :], None, fault)
                    return fault
            return None
        self.commits += 1
        self.ops_committed += len(group)
        if self.failure is not None:
            # A group that only read commits even while writes fail: ask the journal itself.
            self._probe(connection)
        self._finish(group, results, None)
        return None

    def _finish(
        self, group: list[_Job], results: list[Any] | None, error: BaseException | None
    ) -> None:
        with self._lock:
            self._pending -= sum(job.op.weight() for job in group)
        outcomes = [
            (job, results[i] if results is not None else None) for i, job in enumerate(group)
        ]
        # One wake-up per event loop per commit, not one per request: under load a commit carries
        # hundreds of requests, and each cross-thread call costs the loop a system call.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, Any]]] = {}
        for job, result in outcomes:
            if job.loop is None:
                _settle(job.future, result, error)
            else:
                by_loop.setdefault(job.loop, []).append((job, result))
        for loop, jobs in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_all, jobs, error)
            except RuntimeError:  # the loop closed while we committed; nobody is waiting
                log.debug("event loop closed before %d writes could be acknowledged", len(jobs))


def _settle(
    future: "asyncio.Future[Any] | Future[Any]", result: Any, error: BaseException | None
) -> None:
    if future.done():  # the caller went away (e.g. the client disconnected)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _settle_all(jobs: list[tuple[_Job, Any]], error: BaseException | None) -> None:
    for job, result in jobs:
        _settle(job.future, result, error)


def _apply_all(connection: Connection, ops: list[WriteOp[Any]]) -> list[Any]:
    """Apply ops in order, handing each run of same-typed ops to its `apply_group`."""
    results: list[Any] = []
    start = 0
    while start < len(ops):
        kind = type(ops[start])
        end = start + 1
        while end < len(ops) and type(ops[end]) is kind:
            end += 1
        results.extend(kind.apply_group(connection, ops[start:end]))
        start = end
    return results


class Call(WriteOp[T]):
    """A one-off write: any function of the open connection (admin changes, tests)."""

    def __init__(self, function: Callable[[Connection], T]) -> None:
        self.function = function

    def apply(self, connection: Connection) -> T:
        return self.function(connection)
