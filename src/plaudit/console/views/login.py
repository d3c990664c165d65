"""`/login` and `/logout`: an admin token or the console password opens a session."""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.response import Redirect

from plaudit.console import session as sessions
from plaudit.console.forms import read_form
from plaudit.console.pages import Chrome, LoginPage
from plaudit.console.render import html, started
from plaudit.console.throttle import SignInThrottle, account_key, address_key
from plaudit.console.views.common import checked_form
from plaudit.core.access import Scope, looks_like_token
from plaudit.server.state import ServerState, state_of
from plaudit.settings import Settings
from plaudit.store.console_sessions import end_session, start_session
from plaudit.store.writer import Call

THROTTLE_STATE: Final = "plaudit_sign_in_throttle"


def _cookie(request: Request[Any, Any, Any], name: str, value: str, max_age: int) -> Cookie:
    # Lax keeps the cookie off cross-site posts (a second guard beside the CSRF token).
    secure = request.url.scheme == "https"
    return Cookie(
        key=name, value=value, max_age=max_age, httponly=True, samesite="lax", secure=secure
    )


def _login_page(
    request: Request[Any, Any, Any],
    settings: Settings,
    nonce: str,
    next_: str,
    error: str,
    status: int = 401,
) -> Response[str]:
    context = LoginPage(
        next=next_,
        csrf=sessions.login_csrf(settings, nonce),
        error=error,
        password_enabled=settings.console_password is not None,
    )
    chrome = Chrome(title="Sign in", nav="login", signed_in=False)
    cookie = _cookie(request, sessions.LOGIN_COOKIE, nonce, 3600)
    return html(
        "login.html", started(), status=status if error else 200, cookies=[cookie],
        chrome=chrome, page=context,
    )  # fmt: skip


@get("/login", include_in_schema=False)
async def login_form(request: Request[Any, Any, Any]) -> Response[str]:
    """The sign-in form."""
    settings = state_of(request).settings
    nonce = request.cookies.get(sessions.LOGIN_COOKIE) or secrets.token_hex(16)
    next_ = sessions.safe_next(request.query_params.get("next"))
    return _login_page(request, settings, nonce, next_, "")


@dataclass(frozen=True, slots=True)
class SignIn:
    """Who a secret signs in as: a project, and the admin token used (None: the password)."""

    project: str
    token_id: str | None


async def _sign_in_for(state: ServerState, secret: str) -> SignIn | None:
    """Whom an admin token or the password signs in as, or None."""
    if looks_like_token(secret):
        principal = await anyio.to_thread.run_sync(state.tokens.lookup, secret)
        if principal is not None and principal.allows(Scope.ADMIN):
            return SignIn(principal.project, principal.token_id)
        return None
    return SignIn("default", None) if sessions.check_password(state.settings, secret) else None


async def _start(state: ServerState, sign_in: SignIn) -> sessions.NewSession:
    """A new session, recorded (through the writer) so it can be ended before it expires."""
    new = sessions.new_cookie(state.settings, sign_in.project, by_password=sign_in.token_id is None)
    expires = datetime.fromtimestamp(new.expires, UTC)
    await state.writer.write(
        Call(lambda c: start_session(c, new.sid, sign_in.project, sign_in.token_id, expires))
    )
    return new


def _throttle(request: Request[Any, Any, Any]) -> SignInThrottle:
    """This app's sign-in throttle (one per process, made on first use)."""
    app_state = request.app.state
    if THROTTLE_STATE not in app_state:
        app_state[THROTTLE_STATE] = SignInThrottle()
    throttle: SignInThrottle = app_state[THROTTLE_STATE]
    return throttle


def _throttled(
    request: Request[Any, Any, Any], settings: Settings, nonce: str, next_: str, seconds: int
) -> Response[str]:
    """429: the sign-in page saying when to try again, with Retry-After."""
    error = f"Too many failed sign-ins. Try again in {seconds} seconds."
    response = _login_page(request, settings, nonce, next_, error, status=429)
    response.headers["retry-after"] = str(seconds)
    return response


@post("/login", include_in_schema=False, status_code=303)
async def login(request: Request[Any, Any, Any]) -> Response[Any]:
    """Check the form's CSRF token and the secret, then set the session cookie.

    Failed attempts are throttled per client address and per account (see `throttle.py`); a
    blocked address is refused before its body is read.
    """
    state = state_of(request)
    # Without the sign-in page's nonce the form cannot be valid: refuse before reading a byte.
    nonce = request.cookies.get(sessions.LOGIN_COOKIE, "")
    if not nonce:
        raise sessions.CsrfRefused
    throttle = _throttle(request)
    address = address_key(request.client.host if request.client else None)
    if wait := throttle.retry_after([address]):
        return _throttled(request, state.settings, nonce, "/", wait)
    fields = await read_form(request)
    sessions.check_csrf(sessions.login_csrf(state.settings, nonce), fields, request)
    next_ = sessions.safe_next(fields.get("next"))
    secret = fields.get("secret", "").strip()
    account = account_key(secret)
    if wait := throttle.retry_after([address, account]):
        return _throttled(request, state.settings, nonce, next_, wait)
    # A password guess is checked without yielding to the event loop, so parallel guesses cannot
    # all pass `retry_after` before the first failure is counted. (Token guesses wait for a
    # lookup, but a token's 192 random bits are not guessable anyway.)
    sign_in = await _sign_in_for(state, secret)
    if sign_in is None:
        throttle.failed([address, account])
        return _login_page(request, state.settings, nonce, next_, "Wrong token or password.")
    throttle.succeeded(account)
    new = await _start(state, sign_in)
    cookie = _cookie(request, sessions.SESSION_COOKIE, new.cookie, sessions.SESSION_SECONDS)
    return Redirect(next_, status_code=303, cookies=[cookie])


@post("/logout", include_in_schema=False, status_code=303)
async def logout(request: Request[Any, Any, Any]) -> Response[Any]:
    """End the session on the server (a copy of the cookie no longer works), drop the cookie."""
    state, session, _ = await checked_form(request)
    if session.sid != sessions.DEV_SID:
        await state.writer.write(Call(lambda c: end_session(c, session.sid)))
        state.console_sessions.forget(session.sid)
    cookie = _cookie(request, sessions.SESSION_COOKIE, "", 0)
    return Redirect("/login", status_code=303, cookies=[cookie])
