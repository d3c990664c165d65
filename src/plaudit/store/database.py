"""The database: one engine per URL, tuned per dialect for durable, fast writes."""

import sqlite3
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

_encode = msgspec.json.Encoder()


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
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_database_engine(url: str) -> Engine:
    """An engine for `url` with our JSON codec and per-dialect settings."""
    url = normalise_url(url)
    parsed = make_url(url)
    kwargs: dict[str, Any] = {
        "json_serializer": _json_serializer,
        "json_deserializer": msgspec.json.decode,
    }
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False}
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    _require_postgres_driver()
    return create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True, **kwargs)


def _require_postgres_driver() -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise SystemExit("PostgreSQL needs its driver: pip install 'plaudit[postgres]'") from None


def ping(engine: Engine) -> None:
    """Raise if the database cannot answer a trivial query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
