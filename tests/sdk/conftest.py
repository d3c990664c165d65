"""SDK test helpers: a `plaudit serve` subprocess that can be stopped and restarted on the same
port and database, an error collector for `on_error`, and waiting for data to become visible."""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

import plaudit.sdk
from tests.conftest import free_port, make_tokens

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], timeout: float = 20.0, every: float = 0.05) -> T:
    """The first truthy answer of `probe`, polling until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting after {timeout}s (last answer {answer!r})")
        time.sleep(every)


class Errors:
    """An `on_error` callback that keeps what it is given (it runs on the sender thread)."""

    def __init__(self) -> None:
        self.items: list[BaseException] = []
        self._lock = threading.Lock()

    def __call__(self, error: BaseException) -> None:
        with self._lock:
            self.items.append(error)

    def of(self, kind: type[BaseException]) -> list[BaseException]:
        with self._lock:
            return [e for e in self.items if isinstance(e, kind)]


@pytest.fixture
def errors() -> Errors:
    return Errors()


@pytest.fixture(autouse=True)
def _reset_sdk() -> Iterator[None]:
    """Each test starts and ends without a configured default client or exporter."""
    yield
    plaudit.sdk.shutdown(timeout=2)


def plaudit_command() -> list[str]:
    script = Path(sys.executable).parent / "plaudit"
    if script.exists():
        return [str(script)]
    found = shutil.which("plaudit")
    return [found] if found else [sys.executable, "-m", "plaudit"]


class ServeProcess:
    """`plaudit serve` on a fixed port and SQLite file, so it can be stopped and started again."""

    def __init__(self, workdir: Path) -> None:
        self.database_url = f"sqlite:///{workdir / 'plaudit.db'}"
        self.log = workdir / "server.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.admin_token, self.browser_token, self.otlp_token = make_tokens(self.database_url)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLAUDIT_")}
        env["PLAUDIT_LOG_LEVEL"] = "warning"
        env["PLAUDIT_GRPC_PORT"] = "0"
        command = [
            *plaudit_command(), "serve", "--database-url", self.database_url,
            "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        wait_for(self._ready, timeout=20, every=0.05)

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"plaudit serve exited: {self.log.read_text()[-2000:]}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def client(self) -> httpx.Client:
        headers = {"authorization": f"Bearer {self.admin_token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[ServeProcess]:
    server = ServeProcess(tmp_path)
    server.start()
    yield server
    server.stop()
