"""Group commit: one writer thread turns many concurrent requests into one durable transaction.

Every write is a `WriteOp`. Callers enqueue ops and await a future; the writer drains what is
queued, applies it in a single transaction, commits (an fsync on SQLite), and only then
resolves each caller's future. Under load a commit carries hundreds of requests, so durability
costs one fsync per group instead of one per request. Consecutive ops of the same type may be
applied together (`apply_group`), which is how feedback from many requests becomes one bulk
insert.

If a group fails, it is rolled back and each op is retried alone, so one bad op fails only its
own caller.
"""

import asyncio
import logging
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Final, Generic, Self, TypeVar

from sqlalchemy import Connection, Engine

T = TypeVar("T")

log = logging.getLogger(__name__)

MAX_GROUP_OPS: Final = 2_000


class WriterBusy(Exception):
    """The write queue is full; the caller should retry later."""


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

    def __init__(self, engine: Engine, max_pending: int = 200_000) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._max_pending = max_pending
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="plaudit-writer", daemon=True)
        self.commits = 0
        self.ops_committed = 0

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def stop(self) -> None:
        """Finish what is queued, then stop the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    @property
    def pending(self) -> int:
        """Weight of the ops queued and not yet committed."""
        return self._pending

    def _enqueue(self, job: _Job) -> None:
        weight = job.op.weight()
        with self._lock:
            if self._pending + weight > self._max_pending and self._pending > 0:
                raise WriterBusy(f"{self._pending} writes are already queued")
            self._pending += weight
        self._queue.put(job)

    async def write(self, op: WriteOp[T]) -> T:
        """Queue `op` and wait, without blocking the event loop, until it is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._enqueue(_Job(op, future, loop))
        return await future

    def write_sync(self, op: WriteOp[T]) -> T:
        """Queue `op` and block until it is committed (for the CLI and tests)."""
        future: Future[T] = Future()
        self._enqueue(_Job(op, future, None))
        return future.result()

    def _run(self) -> None:
        # One long-lived connection: no pool checkout (or PostgreSQL pre-ping round trip) per
        # commit. SQLAlchemy reconnects it on next use if the database drops it.
        with self._engine.connect() as connection:
            self._drain(connection)

    def _drain(self, connection: Connection) -> None:
        while True:
            first = self._queue.get()
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
            self._commit(connection, group)
            if stop_after:
                return

    def _commit(self, connection: Connection, group: list[_Job]) -> None:
        try:
            with connection.begin():
                results = _apply_all(connection, [job.op for job in group])
        except Exception as error:
            if len(group) == 1:
                self._finish(group, None, error)
                return
            log.warning("group commit of %d ops failed; retrying them one by one", len(group))
            for job in group:
                self._commit(connection, [job])
            return
        self.commits += 1
        self.ops_committed += len(group)
        self._finish(group, results, None)

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
