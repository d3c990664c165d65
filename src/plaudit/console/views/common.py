"""What every console view shares: its session, its frame, its form and its state."""

from typing import Any

from litestar import Request

from plaudit.console import session as sessions
from plaudit.console.forms import FormFields, read_form
from plaudit.console.pages import Chrome
from plaudit.server.state import ServerState, state_of


def signed_in(request: Request[Any, Any, Any]) -> tuple[ServerState, sessions.Session]:
    """The server state and the session; NotSignedIn sends the browser to /login."""
    state = state_of(request)
    return state, sessions.require(request, state.settings)


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
