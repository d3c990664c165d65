"""The web console: server-rendered pages, Jinja2 + htmx + uPlot, no build step.

`console_routes()` gives the server what to register: one `Router` holding the pages, with its
own handlers for "not signed in" (→ /login) and "CSRF token missing" (→ 403) and a guard that
checks the session of every page (`load_session`), and the router of the vendored static files.
"""

from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from litestar import Request, Response, Router
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from plaudit.console.pages import Chrome, ErrorPage
from plaudit.console.render import STATIC_PREFIX, page, started
from plaudit.console.session import CsrfRefused, NotSignedIn
from plaudit.console.views import (
    agreement,
    conversations,
    datasets,
    evaluations,
    exports,
    feedback,
    login,
    overview,
    query,
    queues,
    settings,
    trace,
    trace_list,
)
from plaudit.console.views.common import load_session

STATIC: Final = Path(__file__).parent / "static"

PAGES: Final = [
    overview.overview,
    feedback.explorer_page,
    feedback.event_detail,
    trace.trace_page,
    query.query_page,
    settings.settings_page,
    settings.create_token_form,
    settings.revoke_token_form,
    settings.put_config_form,
    settings.delete_config_form,
    settings.pii_mode_form,
    login.login_form,
    login.login,
    login.logout,
    *datasets.PAGES,
    *queues.PAGES,
    trace_list.traces_page,
    conversations.conversation_page,
    conversations.user_page,
    exports.export_feedback,
    exports.export_query,
    *agreement.PAGES,
    *evaluations.PAGES,
]


def _to_login(request: Request[Any, Any, Any], _: NotSignedIn) -> Response[Any]:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/login?next={quote(target, safe='')}", status_code=303)


def _refused(request: Request[Any, Any, Any], _: CsrfRefused) -> Response[str]:
    chrome = Chrome(title="Refused", nav="", signed_in=False)
    problem = ErrorPage(403, "This form was refused: its CSRF token is missing or stale. "
                        "Reload the page and try again.")  # fmt: skip
    return page("error.html", started(), chrome, problem, status=403)


def console_routes() -> list[ControllerRouterHandler]:
    """The console's pages and static files, to add to the app's route handlers."""
    pages = Router(
        path="/",
        route_handlers=PAGES,
        exception_handlers={NotSignedIn: _to_login, CsrfRefused: _refused},
        guards=[load_session],
        include_in_schema=False,
    )
    static = create_static_files_router(
        path=STATIC_PREFIX, directories=[STATIC], include_in_schema=False,
        cache_control=None,
    )  # fmt: skip
    return [pages, static]
