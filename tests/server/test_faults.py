"""Database faults, for real: a locked or full SQLite file, PostgreSQL cut off or black-holed.

While broken, writes answer 503 with `Retry-After` (within the write deadline) and `/readyz` says
so; afterwards the server recovers by itself, and every event it acknowledged is stored.
"""

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import IntegrityError

from plaudit.server.logs import database_error, mask_secrets
from plaudit.settings import Settings
from plaudit.store.database import create_database_engine
from plaudit.store.migrate import downgrade
from plaudit.store.schema import feedback
from tests.conftest import free_port, make_tokens, serving, until
from tests.tcp_proxy import TcpProxy, through

TRACE = "b7ad6b7169203331a0c5c1e6f0f0e4a1"
BOUND = 60.0  # seconds to wait for what must happen: generous, for a loaded 2-core machine


@dataclass
class Server:
    url: str
    token: str
    acknowledged: set[str] = field(default_factory=set)

    def send(self, event_id: str) -> httpx.Response:
        event = {"id": event_id, "name": "q", "trace_id": TRACE, "value": 1}
        headers = {"authorization": f"Bearer {self.token}"}
        answer = httpx.post(f"{self.url}/v1/feedback", json=event, headers=headers, timeout=30)
        assert answer.status_code in (200, 503), answer.text  # never a 500
        if answer.status_code == 200:
            self.acknowledged.add(event_id)
        else:
            assert answer.headers["retry-after"].isdigit()
            assert answer.headers["content-type"] == "application/problem+json"
        return answer

    def ready(self) -> httpx.Response:
        return httpx.get(f"{self.url}/readyz", timeout=30)


@contextmanager
def server_of(
    database_url: str, token_url: str | None = None, **settings: float
) -> Iterator[Server]:
    admin = make_tokens(token_url or database_url)[0]
    with serving(Settings(database_url=database_url, port=free_port(), **settings)) as url:
        yield Server(url, admin)


def stored_ids(database_url: str) -> set[str]:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        found = set(connection.scalars(select(feedback.c.id)).all())
    engine.dispose()
    return found


# --- SQLite -------------------------------------------------------------------------------------


def test_a_locked_sqlite_file_is_a_503_then_heals(tmp_path: Path) -> None:
    path = tmp_path / "plaudit.db"
    url = f"sqlite:///{path}"
    with server_of(url, write_timeout=20) as server:
        assert server.send("before").status_code == 200
        locker = sqlite3.connect(path, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")  # another program holds the write lock
        started = time.monotonic()
        assert server.send("while-locked").status_code == 503
        assert time.monotonic() - started < 9, "the group was retried op by op"
        not_ready = server.ready()
        assert not_ready.status_code == 503
        assert not_ready.json()["writer"] == "failing: OperationalError"
        locker.execute("ROLLBACK")
        locker.close()
        assert until(lambda: server.ready().status_code == 200, BOUND), server.ready().text
        assert server.send("after").status_code == 200
        assert server.send("while-locked").status_code == 200
    assert server.acknowledged <= stored_ids(url)


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    # A real filesystem that fills up: these machines run the suite as root.
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_is_a_503_then_heals(tiny_filesystem: Path) -> None:
    url = f"sqlite:///{tiny_filesystem / 'plaudit.db'}"
    filler = tiny_filesystem / "filler"
    with server_of(url, write_timeout=20) as server:
        assert server.send("before").status_code == 200
        with filler.open("wb") as out:  # take every free byte
            try:
                while True:
                    out.write(b"\0" * 65_536)
                    out.flush()
            except OSError:
                pass
        answers = [server.send(f"full-{i}").status_code for i in range(40)]
        assert 503 in answers
        assert until(lambda: server.ready().status_code == 503, BOUND)
        filler.unlink()
        assert until(lambda: server.ready().status_code == 200, BOUND), server.ready().text
        assert server.send("after").status_code == 200
    assert server.acknowledged <= stored_ids(url)


def test_a_second_server_process_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    plaudit = [sys.executable, "-m", "plaudit", "serve", "--grpc-port", "0", "--database-url", url]
    plaudit += ["--port"]
    first = subprocess.Popen([*plaudit, str(free_port())], stderr=subprocess.PIPE)
    try:
        assert until(lambda: Path(f"{tmp_path / 'shared.db'}.serve-lock").exists(), BOUND)
        second = subprocess.run(
            [*plaudit, str(free_port())], capture_output=True, text=True, timeout=60
        )
        assert second.returncode != 0
        assert "another plaudit server" in second.stderr and str(first.pid) in second.stderr
    finally:
        first.kill()  # even kill -9 frees the file for the next server
        first.wait()
    port = free_port()
    third = subprocess.Popen([*plaudit, str(port)], stderr=subprocess.DEVNULL)
    try:
        url_ok = f"http://127.0.0.1:{port}/healthz"
        assert until(lambda: _answers(url_ok), BOUND), "a server could not follow a killed one"
    finally:
        third.terminate()
        third.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


# --- PostgreSQL -----------------------------------------------------------------------------------


@pytest.mark.postgres_only
def test_postgres_cut_off_mid_load_is_a_503_then_heals(
    database_url: str, postgres_proxy: TcpProxy, dialect: str
) -> None:
    proxied = through(postgres_proxy, database_url)
    with server_of(proxied, token_url=database_url, write_timeout=5) as server:
        statuses: list[int] = []
        stop = threading.Event()

        def load() -> None:
            n = 0
            while not stop.is_set():
                statuses.append(server.send(f"load-{n}").status_code)
                n += 1

        loader = threading.Thread(target=load)
        loader.start()
        try:
            assert until(lambda: statuses.count(200) > 20, BOUND), statuses[-10:]
            postgres_proxy.cut()
            # Only answers given after the cut count (one before it may have missed its
            # deadline on a loaded machine).
            cut_at = len(statuses)
            assert until(lambda: statuses[cut_at:][-3:] == [503] * 3, BOUND), statuses[-10:]
            assert server.ready().status_code == 503
            postgres_proxy.restore()
            assert until(lambda: server.ready().status_code == 200, BOUND), server.ready().text
            healed = len(statuses)
            assert until(lambda: statuses[healed:].count(200) > 20, BOUND), statuses[-10:]
        finally:
            stop.set()
            loader.join()
    assert server.acknowledged <= stored_ids(database_url)


@pytest.mark.postgres_only
def test_a_black_holed_postgres_answers_within_the_deadline_then_heals(
    database_url: str, postgres_proxy: TcpProxy, dialect: str
) -> None:
    proxied = through(postgres_proxy, database_url)
    with server_of(proxied, token_url=database_url, write_timeout=2) as server:
        assert server.send("before").status_code == 200
        postgres_proxy.black_hole()
        started = time.monotonic()
        assert server.send("into-the-void").status_code == 503
        assert time.monotonic() - started < 4
        started = time.monotonic()
        assert server.ready().status_code == 503
        assert time.monotonic() - started < 5
        postgres_proxy.restore()
        assert until(lambda: server.send("after").status_code == 200, BOUND)
        assert until(lambda: server.ready().status_code == 200, BOUND)
    assert server.acknowledged <= stored_ids(database_url)


# --- what errors may say ------------------------------------------------------------------------


def test_database_errors_reach_the_log_without_the_data_written(database_url: str) -> None:
    engine = create_database_engine(database_url)
    secret = "call me on +1 415 555 2671"
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE IF NOT EXISTS t (v TEXT PRIMARY KEY)"))
        with pytest.raises(IntegrityError) as raised, engine.begin() as connection:
            for _ in range(2):
                connection.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": secret})
        logged = database_error(raised.value)
        assert secret not in logged and "415" not in logged
        assert logged.startswith(type(raised.value.orig).__name__)
        assert "test_faults.py" in logged  # where it happened is kept
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "secret",
    ["pk_0a1b2c3d4e5f_abcdefghijklmnop", "sk_0a1b2c3d4e5f_abcdefghijklmnop",
     "psk_0a1b2c3d4e5f_abcdefghijklmnop", "pft_eyJwcm9qZWN0IjoiZCJ9.c2lnbmF0dXJlX2hlcmU"],
)  # fmt: skip
def test_every_kind_of_token_is_masked_in_logs(secret: str) -> None:
    masked = mask_secrets(f"token {secret} refused")
    assert secret not in masked and secret[4:12] not in masked
    assert masked.startswith("token ") and masked.endswith("**** refused")


def test_several_workers_on_a_sqlite_file_are_refused_at_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    command = [sys.executable, "-m", "plaudit", "serve", "--workers", "2", "--database-url", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--workers needs PostgreSQL" in done.stderr
    assert not (tmp_path / "one.db").exists()


@pytest.mark.postgres_only
def test_a_migration_killed_midway_is_rolled_back_and_redone(
    database_url: str, dialect: str, tmp_path: Path
) -> None:
    engine = create_database_engine(database_url)
    token = make_tokens(database_url)[0]
    with server_of(database_url) as server:
        for n in range(20):
            assert server.send(f"kept-{n}").status_code == 200
    downgrade(engine, "0010")  # the next start has a migration to run
    blocker = engine.connect()
    transaction = blocker.begin()
    # Reading alembic_version stays allowed, updating it does not: the migration runs its DDL,
    # then waits to record its revision, and is killed there.
    blocker.execute(text("LOCK TABLE alembic_version IN EXCLUSIVE MODE"))
    port = free_port()
    command = [sys.executable, "-m", "plaudit", "serve", "--grpc-port", "0"]
    command += ["--database-url", database_url]
    starting = subprocess.Popen([*command, "--port", str(port)], stderr=subprocess.DEVNULL)
    try:
        assert until(lambda: _waits_for_a_lock(engine), 60), "the migration never started"
        starting.kill()
        starting.wait(timeout=30)
    finally:
        transaction.rollback()
        blocker.close()
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT version_num FROM alembic_version")) == "0010"
        # its DDL went with it: the table the migration had made is not there
        assert connection.scalar(text("SELECT to_regclass('span_messages')")) is None
    again = subprocess.Popen([*command, "--port", str(port)], stderr=subprocess.DEVNULL)
    try:
        assert until(lambda: _answers(f"http://127.0.0.1:{port}/readyz"), 60)
        listed = httpx.get(
            f"http://127.0.0.1:{port}/v1/feedback",
            params={"limit": 100},
            headers={"authorization": f"Bearer {token}"},
        ).json()["items"]
        assert {e["id"] for e in listed} >= {f"kept-{n}" for n in range(20)}
    finally:
        again.terminate()
        again.wait(timeout=30)
    engine.dispose()


def _waits_for_a_lock(engine: Engine) -> bool:
    with engine.connect() as connection:
        waiting = connection.scalar(
            text(
                "SELECT count(*) FROM pg_locks "
                "WHERE NOT granted AND relation = 'alembic_version'::regclass"
            )
        )
    return bool(waiting)
