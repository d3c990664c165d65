"""Failed console sign-ins are throttled per address and per account (issue 11, item 6).

Without it a script tried 613 wrong passwords a second.
"""

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from plaudit.console import throttle
from plaudit.console.throttle import SignInThrottle, account_key, address_key, backoff
from plaudit.settings import Settings
from tests.conftest import free_port, serving
from tests.console.conftest import PASSWORD


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_past_the_free_ones_double_the_wait() -> None:
    assert [backoff(n) for n in range(1, 10)] == [0, 0, 0, 0, 0, 1, 2, 4, 8]
    assert backoff(1000) == throttle.MAX_DELAY


def test_a_blocked_key_waits_then_may_try_again() -> None:
    clock = Clock()
    guard = SignInThrottle(clock)
    keys = ["address:192.0.2.1", "account:console"]
    for _ in range(throttle.FREE_FAILURES):
        guard.failed(keys)
    assert guard.retry_after(keys) == 0
    guard.failed(keys)
    assert guard.retry_after(["account:console"]) == 1
    assert guard.retry_after(["address:192.0.2.9"]) == 0
    clock.now += 1
    assert guard.retry_after(keys) == 0
    guard.failed(keys)
    assert guard.retry_after(keys) == 2


def test_success_clears_the_account_and_time_forgets_failures() -> None:
    clock = Clock()
    guard = SignInThrottle(clock)
    for _ in range(8):
        guard.failed(["address:a", "account:x"])
    guard.succeeded("account:x")
    assert guard.retry_after(["account:x"]) == 0
    assert guard.retry_after(["address:a"]) > 0
    clock.now += throttle.FORGET_AFTER + 1
    assert guard.retry_after(["address:a"]) == 0


def test_the_records_are_bounded_and_keep_the_shared_account(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(throttle, "MAX_KEYS", 50)
    guard = SignInThrottle(Clock())
    for _ in range(7):
        guard.failed([throttle.SHARED_ACCOUNT])
    for number in range(500):
        guard.failed([f"address:{number}"])
    assert len(guard._records) <= 50
    assert guard.retry_after([throttle.SHARED_ACCOUNT]) > 0


def test_keys_name_the_address_and_the_account() -> None:
    assert address_key("192.0.2.7") == "address:192.0.2.7"
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff") == "address:2001:db8::/64"
    assert account_key("sk_0123456789ab_secretpartofthetoken") == "account:token:0123456789ab"
    assert account_key("hunter2") == throttle.SHARED_ACCOUNT


@pytest.fixture
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh server (fresh throttle) with the console password set."""
    database_url = f"sqlite:///{tmp_path_factory.mktemp('throttle') / 'plaudit.db'}"
    settings = Settings(database_url=database_url, port=free_port(), console_password=PASSWORD)
    with serving(settings) as url:
        yield url


def _attempt(client: httpx.Client, secret: str) -> httpx.Response:
    page = client.get("/login")
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found
    return client.post("/login", data={"secret": secret, "next": "/", "csrf": found.group(1)})


def test_guessing_the_password_is_answered_429_with_retry_after(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as client:
        began = time.monotonic()
        answers = [_attempt(client, f"guess {n}").status_code for n in range(10)]
        assert answers[: throttle.FREE_FAILURES] == [401] * throttle.FREE_FAILURES
        assert 429 in answers and time.monotonic() - began < 5
        blocked = _attempt(client, PASSWORD)
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) >= 1
        assert "Too many failed sign-ins. Try again in" in blocked.text
        assert "plaudit_session" not in client.cookies


def test_one_address_trying_many_tokens_is_throttled(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as client:
        answers = [
            _attempt(client, f"sk_{n:012x}_notarealsecretnotarealsecret").status_code
            for n in range(throttle.FREE_FAILURES + 1)
        ]
        assert answers[-1] == 401
        assert _attempt(client, "sk_ffffffffffff_anotherguessanotherguess").status_code == 429
