"""The writer itself, on a real database: one bad op in a group fails only its caller, a full
queue refuses at once, `stop` answers every queued caller and loses nothing acknowledged — and
the same when PostgreSQL's connection is cut under it (through a TCP proxy the test controls).

The ops here are real `WriteOp`s written for the test (one waits on a gate, so that the ops
queued behind it meet in one group); the writer, the database and the network are the real ones.
"""

import asyncio
import os
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import pytest
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from plaudit.core.privacy import PiiMode
from plaudit.core.validation import validate_feedback
from plaudit.store.bulk import execute
from plaudit.store.database import create_database_engine
from plaudit.store.feedback import StoreFeedback, current_row
from plaudit.store.migrate import upgrade
from plaudit.store.writer import (
    WRITE_LOCK,
    WriteOp,
    Writer,
    WriterBusy,
    WriterUnavailable,
    WriteTimedOut,
    is_database_fault,
)
from tests.tcp_proxy import TcpProxy, through

TABLE = "writer_test_rows"
INSERT = text(f"INSERT INTO {TABLE} (k, n) VALUES (:k, :n)")
BOUND = 60.0  # seconds: generous, for a loaded 2-core machine


@pytest.fixture(scope="module", autouse=True)
def rows_table(engine: Engine) -> None:
    make_rows_table(engine)


def make_rows_table(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(f"CREATE TABLE {TABLE} (k TEXT PRIMARY KEY, n INTEGER NOT NULL CHECK (n > 0))")
        )


class Put(WriteOp[str]):
    """Insert one row; consecutive Puts go in as one multi-row insert (as feedback does)."""

    group_sizes: list[int] = []

    def __init__(self, key: str, n: int = 1) -> None:
        self.key = key
        self.n = n

    def apply(self, connection: Connection) -> str:
        connection.execute(INSERT, {"k": self.key, "n": self.n})
        return self.key

    @classmethod
    def apply_group(cls, connection: Connection, ops: Sequence[Self]) -> list[str]:
        cls.group_sizes.append(len(ops))
        connection.execute(INSERT, [{"k": op.key, "n": op.n} for op in ops])
        return [op.key for op in ops]


class Heavy(Put):
    """A Put that counts as many rows towards the queue limit."""

    def __init__(self, key: str, weight: int) -> None:
        super().__init__(key)
        self._weight = weight

    def weight(self) -> int:
        return self._weight


class Refuse(WriteOp[None]):
    """An op that finds its own input invalid, as validation inside an op would."""

    def apply(self, connection: Connection) -> None:
        raise ValueError("this op's input is invalid")


class Statement(WriteOp[None]):
    """An op running a statement of its own."""

    def __init__(self, sql: str) -> None:
        self.sql = sql

    def apply(self, connection: Connection) -> None:
        connection.execute(text(self.sql))


class Gate(WriteOp[None]):
    """Holds the writer inside its transaction until opened, so later ops queue up behind it."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def apply(self, connection: Connection) -> None:
        self.entered.set()
        assert self.opened.wait(BOUND), "the test never opened the gate"


@contextmanager
def running(engine: Engine, max_pending: int = 200_000) -> Iterator[Writer]:
    writer = Writer(engine, max_pending=max_pending, deadline=BOUND)
    writer.start()
    try:
        yield writer
    finally:
        writer.stop()


async def eventually(condition: Callable[[], bool], seconds: float = BOUND) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def held(writer: Writer) -> tuple[Gate, "asyncio.Task[None]"]:
    """A gate op the writer is inside of, and its caller."""
    gate = Gate()
    caller = asyncio.ensure_future(writer.write(gate))
    await asyncio.to_thread(gate.entered.wait, BOUND)
    assert gate.entered.is_set()
    return gate, caller


async def queue(writer: Writer, ops: Sequence[WriteOp[Any]]) -> list["asyncio.Task[Any]"]:
    """Each op written by a caller of its own, once all of them wait in the queue."""
    before = writer.pending
    callers = [asyncio.ensure_future(writer.write(op)) for op in ops]
    await eventually(lambda: writer.pending == before + sum(op.weight() for op in ops))
    return callers


async def answers(callers: Sequence[Awaitable[Any]]) -> list[Any]:
    """What each caller got: its result or its exception, within the bound."""
    async with asyncio.timeout(BOUND):
        return await asyncio.gather(*callers, return_exceptions=True)


def stored(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {k: n for k, n in connection.execute(text(f"SELECT k, n FROM {TABLE}"))}


def key() -> str:
    return secrets.token_hex(6)


# --- one bad op -----------------------------------------------------------------------------


def _bad_op(kind: str, dialect: str, existing: str) -> tuple[WriteOp[Any], type[Exception]]:
    if kind == "invalid":
        return Refuse(), ValueError
    if kind == "duplicate key":
        return Put(existing), IntegrityError
    if kind == "check constraint":
        return Put(key(), n=-1), IntegrityError
    # A statement the database refuses for its own sake, which the drivers call operational:
    # on PostgreSQL a key too big for its index (ProgramLimitExceeded), on SQLite an unknown
    # table (SQLITE_ERROR). The database is fine; only this op is wrong.
    if dialect == "postgresql":
        return Put(secrets.token_hex(8_000)), OperationalError
    return Statement("INSERT INTO no_such_table VALUES (1)"), OperationalError


@pytest.mark.parametrize("kind", ["invalid", "duplicate key", "check constraint", "refused"])
def test_one_bad_op_in_a_group_fails_only_its_caller(
    engine: Engine, dialect: str, kind: str
) -> None:
    existing = key()
    with running(engine) as writer:
        writer.write_sync(Put(existing))
        bad, error = _bad_op(kind, dialect, existing)
        good = [Put(key()) for _ in range(4)]
        Put.group_sizes.clear()

        async def scenario() -> list[Any]:
            gate, gate_caller = await held(writer)
            callers = await queue(writer, [good[0], good[1], bad, good[2], good[3]])
            gate.opened.set()
            return await answers([gate_caller, *callers])

        got = asyncio.run(scenario())
        assert writer.failure is None, "a bad op was taken for a failing database"
    assert isinstance(got[3], error), got
    assert [got[i] for i in (1, 2, 4, 5)] == [op.key for op in good]
    rows = stored(engine)
    assert all(rows.get(op.key) == 1 for op in good)
    assert rows[existing] == 1  # the duplicate changed nothing
    # They met in one group, which failed for the bad op alone: with a bad Put, all five were
    # one multi-row insert; else the good ones were two runs of two around the bad op.
    assert max(Put.group_sizes) == (5 if isinstance(bad, Put) else 2)
    if isinstance(bad, Put) and bad.key != existing:
        assert bad.key not in rows


def test_a_database_fault_during_the_retries_fails_the_rest_at_once(engine: Engine) -> None:
    """A group retried op by op stops at the first database fault (each op would only wait
    for the same fault again): everyone left gets it at once."""
    names: list[str] = []

    class Fault(WriteOp[None]):
        def apply(self, connection: Connection) -> None:
            names.append("fault")
            # What a driver raises for a database that went away (invalidated connection).
            raise OperationalError("SELECT 1", {}, ConnectionError("gone"))

    with running(engine) as writer:

        async def scenario() -> list[Any]:
            gate, gate_caller = await held(writer)
            callers = await queue(writer, [Refuse(), Fault(), Put(key()), Put(key())])
            gate.opened.set()
            return await answers([gate_caller, *callers])

        got = asyncio.run(scenario())
        assert writer.pending == 0, "an op was counted off the queue twice"
    assert isinstance(got[1], ValueError)
    assert all(isinstance(answer, OperationalError) for answer in got[2:]), got
    assert names == ["fault"]  # the group stopped at Refuse; alone, Fault failed the rest


# --- a full queue ---------------------------------------------------------------------------


def test_a_full_queue_refuses_at_once_then_takes_writes_again(engine: Engine) -> None:
    with running(engine, max_pending=3) as writer:

        async def scenario() -> list[Any]:
            gate, gate_caller = await held(writer)  # the gate counts: 1 of 3
            callers = await queue(writer, [Put(key()), Put(key())])
            started = time.monotonic()
            with pytest.raises(WriterBusy, match="3 writes are already queued"):
                await writer.write(Put(key()))
            assert time.monotonic() - started < 1, "a full queue must answer at once"
            gate.opened.set()
            return await answers([gate_caller, *callers])

        got = asyncio.run(scenario())
        assert all(isinstance(answer, str) for answer in got[1:]), got
        assert writer.pending == 0
        # An op heavier than the whole queue is still taken when nothing else waits.
        heavy = Heavy(key(), weight=10)
        assert writer.write_sync(heavy) == heavy.key

        async def heavy_behind_one() -> None:
            gate, gate_caller = await held(writer)
            with pytest.raises(WriterBusy):
                await writer.write(Heavy(key(), weight=3))  # 1 + 3 > 3
            gate.opened.set()
            await answers([gate_caller])

        asyncio.run(heavy_behind_one())
    assert heavy.key in stored(engine)


# --- stop -----------------------------------------------------------------------------------


def test_stop_commits_what_was_queued_and_refuses_what_comes_after(engine: Engine) -> None:
    writer = Writer(engine, deadline=BOUND)
    writer.start()
    queued = [Put(key()) for _ in range(50)]

    async def scenario() -> list[Any]:
        gate, gate_caller = await held(writer)
        callers = await queue(writer, queued)
        stopping = asyncio.ensure_future(asyncio.to_thread(writer.stop))
        await eventually(lambda: writer.stopping)
        started = time.monotonic()
        with pytest.raises(WriterUnavailable, match="stopping"):
            writer.write_sync(Put(key()))  # refused, not left waiting for a thread that ends
        assert time.monotonic() - started < 1
        gate.opened.set()
        got = await answers([gate_caller, *callers])
        await answers([stopping])
        return got

    got = asyncio.run(scenario())
    assert not writer.alive
    assert got[1:] == [op.key for op in queued]
    # the gate's group, then the 50 queued behind it as one (what /metrics reports)
    assert (writer.commits, writer.ops_committed) == (2, 51)
    rows = stored(engine)
    assert all(op.key in rows for op in queued)
    with pytest.raises(WriterUnavailable):
        writer.write_sync(Put(key()))


# --- PostgreSQL's connection cut under the writer ---------------------------------------------


@contextmanager
def proxied_engine(database_url: str, proxy: TcpProxy) -> Iterator[Engine]:
    engine = create_database_engine(through(proxy, database_url))
    try:
        yield engine
    finally:
        engine.dispose()


def _acknowledged(ops: Sequence[Put], got: Sequence[Any]) -> set[str]:
    for answer in got:
        assert isinstance(answer, str | DBAPIError | WriterUnavailable), answer
    return {op.key for op, answer in zip(ops, got, strict=True) if isinstance(answer, str)}


@pytest.mark.postgres_only
def test_connection_loss_answers_every_queued_caller_then_heals(
    engine: Engine, database_url: str, postgres_proxy: TcpProxy, dialect: str
) -> None:
    queued = [Put(key()) for _ in range(20)]
    with proxied_engine(database_url, postgres_proxy) as cut_off, running(cut_off) as writer:

        async def scenario() -> list[Any]:
            gate, gate_caller = await held(writer)
            callers = await queue(writer, queued)
            postgres_proxy.cut()
            gate.opened.set()
            return await answers([gate_caller, *callers])

        got = asyncio.run(scenario())
        assert isinstance(got[0], OperationalError)  # its commit could not reach the database
        acknowledged = _acknowledged(queued, got[1:])
        assert writer.failure is not None
        postgres_proxy.restore()

        async def heal() -> str:
            after = Put(key())
            while True:
                try:
                    return await writer.write(after)
                except (DBAPIError, WriterUnavailable):
                    await asyncio.sleep(0.2)

        async def healed() -> str:
            async with asyncio.timeout(BOUND):
                return await heal()

        healed_key = asyncio.run(healed())
        assert writer.failure is None
    assert acknowledged | {healed_key} <= set(stored(engine))


@pytest.mark.postgres_only
def test_stop_during_connection_loss_answers_every_caller(
    engine: Engine, database_url: str, postgres_proxy: TcpProxy, dialect: str
) -> None:
    queued = [Put(key()) for _ in range(20)]
    with proxied_engine(database_url, postgres_proxy) as cut_off:
        writer = Writer(cut_off, deadline=BOUND)
        writer.start()

        async def scenario() -> list[Any]:
            gate, gate_caller = await held(writer)
            callers = await queue(writer, queued)
            postgres_proxy.cut()
            stopping = asyncio.ensure_future(asyncio.to_thread(writer.stop))
            await eventually(lambda: writer.stopping)
            gate.opened.set()
            got = await answers([gate_caller, *callers])
            await answers([stopping])  # stop returns although the database is gone
            return got

        got = asyncio.run(scenario())
        assert not writer.alive
        acknowledged = _acknowledged(queued, got[1:])
    assert acknowledged <= set(stored(engine))


# --- a caller that gave up ------------------------------------------------------------------


def test_a_write_whose_caller_gave_up_before_it_started_is_dropped(engine: Engine) -> None:
    writer = Writer(engine, deadline=0.5)
    writer.start()
    late = Put(key())
    try:

        async def scenario() -> None:
            gate, gate_caller = await held(writer)
            with pytest.raises(
                WriteTimedOut, match=r"not committed within 0\.5 s \(\d+ writes are queued\)"
            ):
                await writer.write(late)  # the gate holds the writer past the deadline
            gate.opened.set()
            with pytest.raises(WriteTimedOut):
                await gate_caller  # its caller gave up too, though the writer had started it

        asyncio.run(scenario())
        writer.write_sync(Put(key()))  # the writer went on: the dropped write is behind it
        assert writer.pending == 0, "a dropped write still counts against the queue"
    finally:
        writer.stop()
    assert late.key not in stored(engine), "a write whose caller gave up was stored"


def test_stop_answers_the_callers_of_a_writer_whose_thread_never_ran(engine: Engine) -> None:
    writer = Writer(engine, deadline=BOUND)  # never started: nothing will take its queue

    async def scenario() -> None:
        caller = asyncio.ensure_future(writer.write(Put(key())))
        await eventually(lambda: writer.pending == 1)
        await asyncio.to_thread(writer.stop)
        started = time.monotonic()
        with pytest.raises(WriterUnavailable, match="stopped"):
            await caller
        assert time.monotonic() - started < 5, "the caller waited for its deadline"

    asyncio.run(scenario())


# --- a database the writer cannot even connect to -----------------------------------------------


@contextmanager
def unreachable(
    dialect: str, database_url: str, proxy: TcpProxy, folder: Path
) -> Iterator[tuple[Engine, Callable[[], None]]]:
    """An engine whose database refuses connections until the returned function is called:
    PostgreSQL behind a cut proxy; a SQLite file whose folder was moved away."""
    if dialect == "postgresql":
        with proxied_engine(database_url, proxy) as engine:
            proxy.cut()
            try:
                yield engine, proxy.restore
            finally:
                proxy.restore()
        return
    home, away = folder / "home", folder / "away"
    engine = create_database_engine(f"sqlite:///{home / 'writer.db'}")
    upgrade(engine)
    make_rows_table(engine)
    engine.dispose()  # no connection kept open: the next one must open the file
    os.rename(home, away)
    try:
        yield engine, lambda: os.rename(away, home)
    finally:
        engine.dispose()


def test_a_writer_that_cannot_connect_says_so_answers_its_callers_and_backs_off(
    engine: Engine, database_url: str, postgres_proxy: TcpProxy, dialect: str, tmp_path: Path
) -> None:
    with unreachable(dialect, database_url, postgres_proxy, tmp_path) as (cut_off, restore):
        attempts: list[float] = []
        event.listen(cut_off, "do_connect", lambda *_: attempts.append(time.monotonic()))
        writer = Writer(cut_off, deadline=BOUND)
        writer.start()
        try:

            async def refused() -> BaseException | None:
                # Answered by the failed connection, not left waiting for the deadline.
                with pytest.raises(OperationalError) as raised:
                    await writer.write(Put(key()))
                return raised.value.orig

            cause = asyncio.run(refused())
            # What /readyz and a 503 quote: the driver's own error, first line, unwrapped.
            assert writer.failure == f"{type(cause).__name__}: {str(cause).splitlines()[0]}"
            # It retries with a growing pause (0.1 s, then 0.2 s, 0.4 s …), not in a busy loop:
            # three pauses lie between the first attempt and the fourth, however loaded the
            # machine (a load only makes them longer).
            asyncio.run(eventually(lambda: len(attempts) >= 4))
            assert attempts[3] - attempts[0] >= 0.1 + 0.2 + 0.4, attempts
            restore()

            async def healed() -> str:
                after = Put(key())
                async with asyncio.timeout(BOUND):
                    while True:
                        try:
                            return await writer.write(after)
                        except (DBAPIError, WriterUnavailable):
                            await asyncio.sleep(0.2)

            stored_key = asyncio.run(healed())
            asyncio.run(eventually(lambda: writer.failure is None))
        finally:
            writer.stop()
        assert stored_key in stored(cut_off)


# --- several writers on one PostgreSQL database ---------------------------------------------


def _waiting_for_the_write_lock(engine: Engine) -> bool:
    with engine.connect() as connection:
        waiting = connection.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND objid = :low",
            ),
            {"low": WRITE_LOCK & 0xFFFF_FFFF},
        )
    return bool(waiting)


@pytest.mark.postgres_only
def test_a_writer_waits_for_the_lock_every_writer_takes(engine: Engine, dialect: str) -> None:
    """On PostgreSQL each writer's transaction first takes one advisory lock, so the writers of
    several server processes commit one at a time: while another holds it, nothing commits."""
    with engine.connect() as holder, running(engine) as writer:
        holder.execute(text(f"SELECT pg_advisory_lock({WRITE_LOCK})"))
        op = Put(key())

        async def scenario() -> str:
            caller = asyncio.ensure_future(writer.write(op))
            await eventually(lambda: caller.done() or _waiting_for_the_write_lock(engine))
            assert not caller.done(), "the write committed without the writers' lock"
            assert op.key not in stored(engine)
            holder.execute(text(f"SELECT pg_advisory_unlock({WRITE_LOCK})"))
            holder.commit()
            [answer] = await answers([caller])
            return str(answer)

        assert asyncio.run(scenario()) == op.key
    assert op.key in stored(engine)


# --- feedback through the driver's own cursor ---------------------------------------------------


def _feedback(event_id: str) -> StoreFeedback:
    raw = {"id": event_id, "name": "rq", "value": "up", "conversation_id": "c"}
    now = datetime.now(UTC)
    event = validate_feedback(raw, pointer="", now=now, configs={})
    assert not isinstance(event, list), event
    return StoreFeedback("p", [event], now, None, pii=PiiMode.REDACT)


@pytest.mark.postgres_only
def test_a_feedback_write_cut_off_mid_transaction_fails_then_the_writer_reconnects(
    engine: Engine, database_url: str, postgres_proxy: TcpProxy, dialect: str
) -> None:
    """The store's statements run on the driver's cursor, not through SQLAlchemy's execution:
    a connection lost under them must still come out as SQLAlchemy's error, marked as the
    database's fault, and leave the connection invalidated, so the next write reconnects."""
    with proxied_engine(database_url, postgres_proxy) as cut_off, running(cut_off) as writer:
        assert writer.write_sync(_feedback(key())) == ["created"]
        postgres_proxy.cut()
        with pytest.raises(DBAPIError) as lost:
            writer.write_sync(_feedback(key()))
        assert is_database_fault(lost.value) and writer.failure is not None
        postgres_proxy.restore()
        healed = key()
        deadline = time.monotonic() + BOUND
        while True:
            try:
                assert writer.write_sync(_feedback(healed)) == ["created"]
                break
            except (DBAPIError, WriterUnavailable):
                assert time.monotonic() < deadline, "the writer never reconnected"
                time.sleep(0.2)
    with engine.connect() as connection:
        assert current_row(connection, "p", healed) is not None


def test_a_statement_refused_on_the_drivers_cursor_is_sqlalchemys_error_with_hidden_values(
    engine: Engine,
) -> None:
    secret = f"secret-{key()}"
    marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    statement = f"INSERT INTO {TABLE} (k, n) VALUES ({marker}, 1)"
    with engine.begin() as connection:
        execute(connection, statement, (secret,))
    with pytest.raises(IntegrityError) as refused, engine.begin() as connection:
        execute(connection, statement, (secret,))
    assert not is_database_fault(refused.value)  # the op's fault: the rest of a group commits
    assert "[SQL parameters hidden due to hide_parameters=True]" in str(refused.value)
