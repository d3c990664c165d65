"""Template rendering: one autoescaping Jinja environment and the HTML response around it."""

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request, Response
from litestar.datastructures import Cookie

from plaudit.console.charts import chart_json
from plaudit.console.pages import Chrome

TEMPLATES: Final = Path(__file__).parent / "templates"
STATIC_PREFIX: Final = "/static/console"

# Autoescape is on for every .html template: comments, names and metadata are written by end
# users, so nothing they send may become markup. `tojson` escapes <, > and & for <script> blocks.
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"], default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals["static"] = STATIC_PREFIX
_env.globals["chart_json"] = chart_json

# Pages must not be framed (clickjacking) nor run inline scripts: data for charts travels in
# <script type="application/json">, which a CSP of script-src 'self' still allows to be read.
SECURITY_HEADERS: Final = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def started() -> float:
    """A monotonic start time for the Server-Timing header."""
    return time.perf_counter()


def render(template: str, **context: Any) -> str:
    """A template rendered with `context`."""
    return _env.get_template(template).render(**context)


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    """Whether htmx asked (and wants only a partial)."""
    return request.headers.get("hx-request") == "true"


def html(
    template: str,
    since: float,
    *,
    status: int = 200,
    cookies: list[Cookie] | None = None,
    **context: Any,
) -> Response[str]:
    """An HTML response with a Server-Timing header of the time since `since`."""
    body = render(template, **context)
    elapsed = (time.perf_counter() - since) * 1000
    headers = {**SECURITY_HEADERS, "server-timing": f"app;dur={elapsed:.1f}"}
    return Response(
        body, status_code=status, media_type="text/html", headers=headers, cookies=cookies or []
    )


def page(
    template: str, since: float, chrome: Chrome, page: object, *, status: int = 200
) -> Response[str]:
    """A whole page: the frame and its typed context."""
    return html(template, since, status=status, chrome=chrome, page=page)


def when(moment: datetime | str | None) -> str:
    """A time as `YYYY-MM-DD HH:MM:SS` UTC for tables."""
    if moment is None:
        return ""
    text = moment if isinstance(moment, str) else moment.isoformat()
    return text.replace("T", " ")[:19]


def pretty(value: Any) -> str:
    """JSON for a <pre> block (the template escapes it)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def percent(value: float | None) -> str:
    """A fraction as a percentage, or an em dash."""
    return "—" if value is None else f"{value * 100:.1f}%"


_env.filters["percent"] = percent
# A value as one path segment (`/users/{id}`): every reserved character escaped, `/` included.
_env.filters["segment"] = lambda value: quote(str(value), safe="")
