"""Console sign-in: an admin token or the configured password opens a signed cookie session.

The cookie holds `{project, sid, exp, pwd}` and an HMAC-SHA256 of it. The signature proves the
cookie was made here; whether the session is still live (not signed out, its token not revoked)
is kept in the database and checked on every signed-in request (see `views/common.py`). A session
opened with the password also carries a keyed fingerprint of that password, so it ends when the
password is changed or removed. Every form that changes state carries a CSRF token derived from
the session id with the same key, so another site can neither read it nor forge it; a post
without the right one is refused.

The key is `PLAUDIT_CONSOLE_SECRET` when set (needed for several workers, or for sessions that
survive a restart); otherwise a random key made when the process starts.
"""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from litestar import Request

from plaudit.core import base64url
from plaudit.settings import Settings

SESSION_COOKIE: Final = "plaudit_session"
LOGIN_COOKIE: Final = "plaudit_login"
"""A random nonce set by the sign-in page, so the sign-in form has a CSRF token of its own."""
SESSION_SECONDS: Final = 12 * 3600
CSRF_FIELD: Final = "csrf"
CSRF_HEADER: Final = "x-csrf-token"
DEV_SID: Final = "dev"

_PROCESS_KEY: Final = secrets.token_bytes(32)


class NotSignedIn(Exception):
    """A console page was asked for without a session; the router redirects to /login."""


class CsrfRefused(Exception):
    """A state-changing request without the session's CSRF token."""


class _Claims(msgspec.Struct, frozen=True):
    project: str
    sid: str
    exp: int
    pwd: str = ""  # fingerprint of the password that signed in; "" for an admin token


@dataclass(frozen=True, slots=True)
class Session:
    """Who is using the console, and the CSRF token their forms carry."""

    project: str
    sid: str
    csrf: str


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just signed in: the cookie value, its id and when it expires."""

    cookie: str
    sid: str
    expires: int


def _key(settings: Settings) -> bytes:
    configured = settings.console_secret
    if configured is None:
        return _PROCESS_KEY
    return hashlib.sha256(b"plaudit-console:" + configured.encode()).digest()


def _mac(settings: Settings, purpose: str, text: str) -> str:
    return hmac.new(_key(settings), f"{purpose}:{text}".encode(), hashlib.sha256).hexdigest()


def _password_mark(settings: Settings) -> str:
    """A keyed fingerprint of the configured password ("" when none): never the password."""
    password = settings.console_password
    return "" if password is None else _mac(settings, "password", password)[:32]


def new_cookie(settings: Settings, project: str, by_password: bool = False) -> NewSession:
    """A fresh signed session for `project` (opened with the password when `by_password`)."""
    mark = _password_mark(settings) if by_password else ""
    claims = _Claims(project, secrets.token_hex(16), int(time.time()) + SESSION_SECONDS, mark)
    body = base64url.encode(msgspec.json.encode(claims))
    return NewSession(f"{body}.{_mac(settings, 'session', body)}", claims.sid, claims.exp)


def read_cookie(settings: Settings, value: str | None) -> Session | None:
    """The session of a cookie value, or None when absent, forged or expired."""
    if not value or "." not in value:
        return None
    body, _, mac = value.partition(".")
    if not hmac.compare_digest(mac, _mac(settings, "session", body)):
        return None
    try:
        claims = msgspec.json.decode(base64url.decode(body), type=_Claims)
    except (ValueError, msgspec.DecodeError):
        return None
    if claims.exp < time.time():
        return None
    if claims.pwd and not hmac.compare_digest(claims.pwd, _password_mark(settings)):
        return None  # the password that opened it was changed or removed
    return Session(claims.project, claims.sid, _mac(settings, "csrf", claims.sid)[:40])


def dev_session(settings: Settings) -> Session:
    """The stand-in session of --dev mode (loopback only), where everyone is signed in."""
    return Session("default", DEV_SID, _mac(settings, "csrf", DEV_SID)[:40])


def login_csrf(settings: Settings, nonce: str) -> str:
    """The CSRF token of the sign-in form for the browser holding `nonce`."""
    return _mac(settings, "login", nonce)[:40]


def check_csrf(expected: str, form: dict[str, str], request: Request[Any, Any, Any]) -> None:
    """Refuse unless the form field or the htmx header carries `expected`."""
    given = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise CsrfRefused


def check_password(settings: Settings, given: str) -> bool:
    """Whether `given` is the configured console password (never true when none is set)."""
    password = settings.console_password
    return password is not None and hmac.compare_digest(given.encode(), password.encode())


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
