"""`/query?q=…`: the query bar — the text form of the query model, its table and its chart."""

import json
import time
from typing import Any, Final

from litestar import Request, Response, get
from sqlalchemy import Connection

from plaudit.analytics.run import Answer, QueryTooLarge, run_query
from plaudit.console.charts import chart_for
from plaudit.console.pages import QueryError, QueryPage
from plaudit.console.render import html, is_htmx, page, started
from plaudit.console.views.common import chrome, signed_in
from plaudit.core.query import model
from plaudit.core.query.text import parse_query
from plaudit.store.sql_query import QueryTimeout

EXAMPLES: Final = (
    "satisfaction, count by capability, day since 14d",
    'count by value where name = "issue-category" since 30d',
    "satisfaction by capability order by satisfaction asc limit 5",
    'avg, p95 by capability where name = "star-rating" since 14d',
)
SECONDS: Final = 10.0


def cell(value: Any) -> str:
    """A result value as table text."""
    if value is None:
        return "∅"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def located(q: str, error: model.QueryError) -> QueryError:
    """The error split at its position (the end when it has none)."""
    at = len(q) if error.position is None else min(error.position, len(q))
    return QueryError(error.message, q[:at], q[at:])


def _run(connection: Connection, parsed: model.Query, project: str) -> Answer:
    return run_query(connection, parsed, project, seconds=SECONDS)


async def answer_of(
    request: Request[Any, Any, Any], q: str
) -> tuple[Answer | None, QueryError | None]:
    """The answer to `q` for the signed-in project, or where `q` went wrong."""
    state, session = signed_in(request)
    try:
        parsed = parse_query(q)
        parsed.check()
    except model.QueryError as error:
        return None, located(q, error)
    try:
        answer = await state.read(_run, parsed, session.project)
    except model.QueryError as error:
        return None, located(q, error)
    except (QueryTimeout, QueryTooLarge) as error:
        return None, QueryError(str(error), q, "")
    return answer, None


@get("/query", include_in_schema=False)
async def query_page(request: Request[Any, Any, Any]) -> Response[str]:
    """The page, or only its result for htmx."""
    since = started()
    _, session = signed_in(request)
    q = request.query_params.get("q", "").strip()
    answer, error = (None, None)
    begun = time.perf_counter()
    if q:
        answer, error = await answer_of(request, q)
    context = QueryPage(
        q=q,
        examples=EXAMPLES,
        columns=[(c.name, c.type) for c in answer.columns] if answer else [],
        rows=[[cell(v) for v in row] for row in answer.rows] if answer else [],
        chart=chart_for(answer) if answer else None,
        error=error,
        elapsed_ms=(time.perf_counter() - begun) * 1000 if q else None,
    )
    if is_htmx(request):
        return html("_query_result.html", since, page=context)
    return page("query.html", since, chrome(session, "Query", "query"), context)
