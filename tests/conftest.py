"""Shared fixtures: every store test runs on SQLite and on the real PostgreSQL, against a real
server listening on loopback.

`--db sqlite|postgresql|both` (default both) picks the stores. PostgreSQL runs are isolated in a
schema of their own, dropped afterwards.
"""

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import pytest
import uvicorn
from sqlalchemy import Engine, create_engine, text

from plaudit.core.access import Scope
from plaudit.server.app import create_app
from plaudit.settings import Settings
from plaudit.store.database import create_database_engine
from plaudit.store.migrate import upgrade
from plaudit.store.tokens import create_token
from tests.tcp_proxy import TcpProxy

# Servers the tests start never take the default OTLP/gRPC port (4317): parallel runs would
# collide on it. In-process servers say `grpc_port=0`; this covers subprocesses that inherit the
# environment (those that clear PLAUDIT_* variables set it themselves).
os.environ.setdefault("PLAUDIT_GRPC_PORT", "0")

POSTGRES = os.environ.get(
    "PLAUDIT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", default="both", choices=["sqlite", "postgresql", "both"])
    # Off by default, so a test run never rewrites tracked files (tests/console/screenshots.py).
    parser.addoption(
        "--update-screenshots", action="store_true", help="write console pages to docs/images"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "dialect" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--db")
        dialects = ["sqlite", "postgresql"] if chosen == "both" else [chosen]
        if metafunc.definition.get_closest_marker("postgres_only"):
            dialects = [d for d in dialects if d == "postgresql"]
        metafunc.parametrize("dialect", dialects, scope="module")


@contextmanager
def fresh_database(dialect: str, folder: Path) -> Iterator[str]:
    """A new, empty database of the dialect: a file in `folder`, or a PostgreSQL schema of its
    own, dropped afterwards."""
    if dialect == "sqlite":
        yield f"sqlite:///{folder / 'plaudit.db'}"
        return
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="module")
def database_url(dialect: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty database of the dialect, shared by the tests of a module."""
    with fresh_database(dialect, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module")
def engine(database_url: str) -> Iterator[Engine]:
    """The module's database, migrated, shared by the tests of the module."""
    engine = create_database_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_proxy() -> Iterator[TcpProxy]:
    """A TCP proxy in front of the test PostgreSQL, to cut it off or black-hole it."""
    target = urlsplit(POSTGRES)
    proxy = TcpProxy((target.hostname or "127.0.0.1", target.port or 5432))
    yield proxy
    proxy.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    """A Plaudit server on loopback, with tokens of each kind for its `default` project."""

    url: str
    database_url: str
    admin_token: str
    browser_token: str
    otlp_token: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {token or self.admin_token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def make_tokens(database_url: str) -> tuple[str, str, str]:
    engine = create_database_engine(database_url)
    upgrade(engine)
    with engine.begin() as connection:
        admin = create_token(connection, "default", frozenset({Scope.ADMIN}), "tests")[1]
        browser = create_token(connection, "default", frozenset({Scope.FEEDBACK_WRITE}), "browser")[
            1
        ]
        otlp = create_token(connection, "default", frozenset({Scope.TRACES_WRITE}), "otlp")[1]
    engine.dispose()
    return admin, browser, otlp


@contextmanager
def serving_app(app: Any, port: int, /, **options: Any) -> Iterator[str]:
    """Run an ASGI app on 127.0.0.1:`port` in a thread while the block runs; its base URL.

    The one way tests start a server in-process (a subprocess is `plaudit serve` itself).
    `options` are more uvicorn settings, e.g. the CLI's own (`plaudit.cli.serve.uvicorn_options`).
    """
    config = uvicorn.Config(
        app, **{"log_config": None, **options, "host": "127.0.0.1", "port": port, "loop": "asyncio"}
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def serving(settings: Settings, /, **options: Any) -> AbstractContextManager[str]:
    """A Plaudit server for `settings`, on loopback in a thread while the block runs.

    OTLP/gRPC stays off unless the test names a port of its own: the default, 4317, would be
    taken by every test server at once under `pytest -n 2`.
    """
    if settings.grpc_port == DEFAULT_GRPC_PORT:
        settings = msgspec.structs.replace(settings, grpc_port=0)
    return serving_app(create_app(settings), settings.port, **options)


DEFAULT_GRPC_PORT = Settings(database_url="sqlite://").grpc_port


@pytest.fixture(scope="module")
def live_server(database_url: str) -> Iterator[LiveServer]:
    """A real server on loopback over the module's database."""
    admin, browser, otlp = make_tokens(database_url)
    port = free_port()
    settings = Settings(
        database_url=database_url,
        port=port,
        grpc_port=0,
        cors_origins=("http://allowed.example",),
    )
    with serving(settings) as url:
        yield LiveServer(url, database_url, admin, browser, otlp)


@pytest.fixture
def api(live_server: LiveServer) -> Iterator[httpx.Client]:
    """An HTTP client holding the admin token."""
    with live_server.client() as client:
        yield client


@pytest.fixture
def unique() -> str:
    """A short unique string, so tests sharing a server never collide."""
    return secrets.token_hex(4)


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def until(condition: Callable[[], bool], seconds: float = 60.0) -> bool:
    """Poll `condition` every 0.1 s until it holds (True) or `seconds` pass (False): a bound
    generous enough for a loaded 2-core machine, never a fixed sleep."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False
