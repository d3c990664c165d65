"""Console sign-in: an admin token or the configured password opens a signed cookie session.

The cookie holds `{project, sid, exp}` and an HMAC-SHA256 of it; nothing is stored server-side,
so signing out is done by dropping the cookie and sessions end when they expire. Every form that
changes state carries a CSRF token derived from the session id with the same key, so another site
can neither read it nor forge it; a post without the right one is refused.

The key is `PLAUDIT_CONSOLE_SECRET` when set (needed for several workers, or for sessions that
survive a restart); otherwise a random key made when the process starts.
"""

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from litestar import Request

from plaudit.settings import Settings

SESSION_COOKIE: Final = "plaudit_session"
LOGIN_COOKIE: Final = "plaudit_login"
"""A random nonce set by the sign-in page, so the sign-in form has a CSRF token of its own."""
SESSION_SECONDS: Final = 12 * 3600
CSRF_FIELD: Final = "csrf"
CSRF_HEADER: Final = "x-csrf-token"

_PROCESS_KEY: Final = secrets.token_bytes(32)


class NotSignedIn(Exception):
    """A console page was asked for without a session; the router redirects to /login."""


class CsrfRefused(Exception):
    """A state-changing request without the session's CSRF token."""


class _Claims(msgspec.Struct, frozen=True):
    project: str
    sid: str
    exp: int


@dataclass(frozen=True, slots=True)
class Session:
    """Who is using the console, and the CSRF token their forms carry."""

    project: str
    sid: str
    csrf: str


def _key(settings: Settings) -> bytes:
    configured = settings.console_secret
    if configured is None:
        return _PROCESS_KEY
    return hashlib.sha256(b"plaudit-console:" + configured.encode()).digest()


def _mac(settings: Settings, purpose: str, text: str) -> str:
    return hmac.new(_key(settings), f"{purpose}:{text}".encode(), hashlib.sha256).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_cookie(settings: Settings, project: str) -> str:
    """A fresh signed session cookie value for `project`."""
    claims = _Claims(project, secrets.token_hex(16), int(time.time()) + SESSION_SECONDS)
    body = _b64(msgspec.json.encode(claims))
    return f"{body}.{_mac(settings, 'session', body)}"


def read_cookie(settings: Settings, value: str | None) -> Session | None:
    """The session of a cookie value, or None when absent, forged or expired."""
    if not value or "." not in value:
        return None
    body, _, mac = value.partition(".")
    if not hmac.compare_digest(mac, _mac(settings, "session", body)):
        return None
    try:
        claims = msgspec.json.decode(_unb64(body), type=_Claims)
    except (ValueError, msgspec.DecodeError):
        return None
    if claims.exp < time.time():
        return None
    return Session(claims.project, claims.sid, _mac(settings, "csrf", claims.sid)[:40])


def current(request: Request[Any, Any, Any], settings: Settings) -> Session | None:
    """The request's session; in --dev mode (loopback only) everyone is signed in."""
    session = read_cookie(settings, request.cookies.get(SESSION_COOKIE))
    if session is None and settings.dev:
        session = Session("default", "dev", _mac(settings, "csrf", "dev")[:40])
    return session


def require(request: Request[Any, Any, Any], settings: Settings) -> Session:
    """The session, or NotSignedIn."""
    session = current(request, settings)
    if session is None:
        raise NotSignedIn
    return session


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
