"""Console sessions: signed, expiring, bound to their CSRF token; no open redirect."""

import time

import pytest

from plaudit.console import session
from plaudit.settings import Settings as ConsoleSettings

SETTINGS = ConsoleSettings(console_secret="s3cret", console_password="pw")


def test_a_cookie_reads_back_and_a_tampered_one_does_not() -> None:
    cookie = session.new_cookie(SETTINGS, "default").cookie
    found = session.read_cookie(SETTINGS, cookie)
    assert found is not None and found.project == "default" and len(found.csrf) == 40
    body, _, mac = cookie.partition(".")
    assert session.read_cookie(SETTINGS, body + "x." + mac) is None
    assert session.read_cookie(SETTINGS, body + "." + "0" * len(mac)) is None
    other = ConsoleSettings(console_secret="another")
    assert session.read_cookie(other, cookie) is None


def test_an_expired_cookie_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    cookie = session.new_cookie(SETTINGS, "default").cookie
    later = time.time() + session.SESSION_SECONDS + 1
    monkeypatch.setattr(session.time, "time", lambda: later)
    assert session.read_cookie(SETTINGS, cookie) is None


def test_each_session_has_its_own_csrf_token() -> None:
    first = session.read_cookie(SETTINGS, session.new_cookie(SETTINGS, "default").cookie)
    second = session.read_cookie(SETTINGS, session.new_cookie(SETTINGS, "default").cookie)
    assert first is not None and second is not None and first.csrf != second.csrf


def test_password_is_checked_only_when_configured() -> None:
    assert session.check_password(SETTINGS, "pw")
    assert not session.check_password(SETTINGS, "PW")
    assert not session.check_password(ConsoleSettings(), "")


@pytest.mark.parametrize(
    ("given", "expected"),
    [("/feedback?x=1", "/feedback?x=1"), ("//evil.example", "/"), ("https://evil.example", "/"),
     ("/\\evil.example", "/"), (None, "/")],
)  # fmt: skip
def test_next_stays_on_this_site(given: str | None, expected: str) -> None:
    assert session.safe_next(given) == expected


def test_a_password_session_ends_when_the_password_changes() -> None:
    cookie = session.new_cookie(SETTINGS, "default", by_password=True).cookie
    assert session.read_cookie(SETTINGS, cookie) is not None
    changed = ConsoleSettings(console_secret="s3cret", console_password="new")
    assert session.read_cookie(changed, cookie) is None
    assert session.read_cookie(ConsoleSettings(console_secret="s3cret"), cookie) is None


def test_a_token_session_does_not_depend_on_the_password() -> None:
    cookie = session.new_cookie(SETTINGS, "default").cookie
    assert session.read_cookie(ConsoleSettings(console_secret="s3cret"), cookie) is not None
