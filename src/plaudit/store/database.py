"""The database: one engine per URL, tuned per dialect for durable, fast writes."""

import fcntl
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import msgspec
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

_encode = msgspec.json.Encoder()

# PostgreSQL: give up connecting after 5 s, notice a peer that stopped answering (a black-holed
# database) within ~10 s instead of the kernel's 15 minutes, and stop any statement after 60 s.
_POSTGRES_CONNECT_ARGS: Final = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
    "tcp_user_timeout": 10_000,
}
STATEMENT_TIMEOUT_MS: Final = 60_000


def _json_serializer(value: Any) -> str:
    return _encode.encode(value).decode()


def normalise_url(url: str) -> str:
    """Pick our drivers for bare `sqlite://` and `postgresql://` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _: ConnectionPoolEntry) -> None:
    # WAL lets readers run beside the writer; synchronous=FULL fsyncs the WAL at every commit,
    # which is what makes an acknowledgement durable across kill -9 and power loss.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_database_engine(url: str) -> Engine:
    """An engine for `url` with our JSON codec and per-dialect settings."""
    url = normalise_url(url)
    parsed = make_url(url)
    kwargs: dict[str, Any] = {
        "json_serializer": _json_serializer,
        "json_deserializer": msgspec.json.decode,
        # Statement parameters hold feedback text: never in an error message or a log line.
        "hide_parameters": True,
    }
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False}
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    _require_postgres_driver()
    engine = create_engine(
        url,
        pool_size=8,
        max_overflow=8,
        pool_pre_ping=True,
        connect_args=dict(_POSTGRES_CONNECT_ARGS),
        **kwargs,
    )
    event.listen(engine, "connect", _postgres_session)
    return engine


def _postgres_session(dbapi_connection: Any, _: ConnectionPoolEntry) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
    dbapi_connection.commit()


def _require_postgres_driver() -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise SystemExit("PostgreSQL needs its driver: pip install 'plaudit[postgres]'") from None


def ping(engine: Engine) -> None:
    """Raise if the database cannot answer a trivial query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


class DatabaseInUse(Exception):
    """Another server process already serves this SQLite file."""


@dataclass
class _Held:
    file: IO[str]
    claims: int


_HELD: dict[Path, _Held] = {}  # by this process: the CLI and the app's lifespan claim alike
_HELD_LOCK = threading.Lock()


class ServerClaim:
    """This process's claim to be the one server of a SQLite file (PostgreSQL needs none).

    Two server processes on one SQLite file would each run a writer, and their commits would
    race: ids checked as new by both, then inserted twice. An exclusive `flock` on
    `<file>.serve-lock` refuses a second process at start; the kernel drops the lock when the
    process ends, however it ends. Claims within one process nest. Short-lived tools (the CLI's
    other commands) may still use the file beside a server: SQLite's lock serialises them.
    """

    def __init__(self, url: str) -> None:
        self._path: Path | None = None
        parsed = make_url(normalise_url(url))
        if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
            return
        path = Path(parsed.database).resolve()
        with _HELD_LOCK:
            held = _HELD.get(path)
            if held is None:
                held = _HELD[path] = _Held(_lock_file(path), 0)
            held.claims += 1
        self._path = path

    def release(self) -> None:
        """Give the claim up (at shutdown); the file is free when the last claim goes."""
        if self._path is None:
            return
        with _HELD_LOCK:
            held = _HELD[self._path]
            held.claims -= 1
            if held.claims == 0:
                held.file.close()
                del _HELD[self._path]
        self._path = None


def _lock_file(path: Path) -> IO[str]:
    lock = open(f"{path}.serve-lock", "a+")  # noqa: SIM115 - held until the last release
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise DatabaseInUse(
            f"another plaudit server (pid {holder}) is serving {path}. A SQLite database is "
            "served by one process: stop that one, point this one at another file "
            "(--database-url), or use PostgreSQL to run several server processes"
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    return lock
