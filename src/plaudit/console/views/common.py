"""What every console view shares: its session, its frame, its form and its state."""

from typing import Any, Final

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from plaudit.console import session as sessions
from plaudit.console.forms import FormFields, read_form
from plaudit.console.pages import Chrome
from plaudit.server.state import ServerState
from plaudit.store.console_sessions import session_is_live

_SESSION: Final = "plaudit_console_session"
"""Where `load_session` leaves the request's checked session (or None) in the request state."""


def _state(connection: ASGIConnection[Any, Any, Any, Any]) -> ServerState:
    state: ServerState = connection.app.state.plaudit
    return state


async def _is_live(state: ServerState, session: sessions.Session) -> bool:
    """Whether the session is still live in the database, cached for a few seconds."""
    live = state.console_sessions.get(session.sid)
    if live is None:
        live = await state.read(session_is_live, session.sid, session.project)
        state.console_sessions.put(session.sid, live)
    return live


async def load_session(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of every console page: check the cookie's session once, before the handler runs
    and before any body is read, and leave it for `signed_in` (None when there is none)."""
    state = _state(connection)
    session = sessions.read_cookie(state.settings, connection.cookies.get(sessions.SESSION_COOKIE))
    if session is not None and not await _is_live(state, session):
        session = None
    if session is None and state.settings.dev:
        session = sessions.dev_session(state.settings)
    connection.state[_SESSION] = session


def signed_in(request: Request[Any, Any, Any]) -> tuple[ServerState, sessions.Session]:
    """The server state and the session; NotSignedIn sends the browser to /login."""
    session = request.state.get(_SESSION)
    if not isinstance(session, sessions.Session):
        raise sessions.NotSignedIn
    return _state(request), session


def chrome(session: sessions.Session, title: str, nav: str) -> Chrome:
    """The frame of a signed-in page."""
    return Chrome(title=title, nav=nav, csrf=session.csrf, project=session.project)


async def checked_form(
    request: Request[Any, Any, Any],
) -> tuple[ServerState, sessions.Session, FormFields]:
    """A state-changing request: signed in (checked before the body is read), its bounded form,
    and the CSRF token checked."""
    state, session = signed_in(request)
    fields = await read_form(request)
    sessions.check_csrf(session.csrf, fields, request)
    return state, session, fields


def query_params(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The query string as text fields, blanks dropped."""
    return {k: v.strip() for k, v in request.query_params.items() if v and v.strip()}
