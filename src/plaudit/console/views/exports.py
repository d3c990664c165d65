"""Downloads from the console: the explorer's events and the query bar's answer, as CSV or NDJSON.

`/feedback.csv?<the explorer's filters>` streams every matching event through the same export as
`GET /v1/feedback` with `Accept: text/csv` (constant memory, oldest first), authorised by the
console session rather than a bearer token. `/query.csv?q=…` is the answer table the page shows.
"""

import csv
import io
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
from litestar import Request, Response, get
from litestar.response import Stream

from plaudit.analytics.export import MEDIA_TYPES, ExportFormat, neutralised
from plaudit.console import explorer
from plaudit.console.views.common import query_params, signed_in
from plaudit.console.views.query import answer_of
from plaudit.core.access import Principal, Scope
from plaudit.core.query.model import QueryError
from plaudit.errors import BadRequest
from plaudit.server.api.query import stream_feedback_export

FORMATS: Final = {"csv": ExportFormat.CSV, "ndjson": ExportFormat.NDJSON}


def _format(request: Request[Any, Any, Any]) -> tuple[ExportFormat, str]:
    """The format the path's extension names, and the extension."""
    extension = request.url.path.rsplit(".", 1)[-1]
    return FORMATS[extension], extension


def _attachment(stem: str, extension: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f'attachment; filename="plaudit-{stem}-{stamp}.{extension}"'


@get(["/feedback.csv", "/feedback.ndjson"], include_in_schema=False)
async def export_feedback(request: Request[Any, Any, Any]) -> Stream:
    """Every event the explorer's filters match, streamed."""
    chosen_format, extension = _format(request)
    _, session = signed_in(request)
    params = query_params(request)
    try:
        chosen = explorer.selection({k: v for k, v in params.items() if k != "after"})
    except QueryError as problem:
        raise BadRequest(f"the filters are malformed: {problem.message}") from None
    reader = Principal(session.project, frozenset({Scope.READ}), None)
    stream = await stream_feedback_export(
        request, reader, chosen_format, chosen.filters, chosen.window
    )
    stream.headers["content-disposition"] = _attachment("feedback", extension)
    # The framework adds the charset to text/* types itself; named twice it would be repeated.
    stream.media_type = MEDIA_TYPES[chosen_format].split(";")[0]
    return stream


def _json_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralised(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return msgspec.json.encode(value).decode()


@get(["/query.csv", "/query.ndjson"], include_in_schema=False)
async def export_query(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The query bar's answer table as a file."""
    chosen_format, extension = _format(request)
    q = request.query_params.get("q", "").strip()
    if not q:
        raise BadRequest("`q` is missing: export the answer of a query")
    answer, error = await answer_of(request, q)
    if answer is None:
        message = error.message if error is not None else "the query gave no answer"
        raise BadRequest(f"the query is malformed: {message}")
    names = [c.name for c in answer.columns]
    if chosen_format is ExportFormat.CSV:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(names)
        writer.writerows([_json_cell(v) for v in row] for row in answer.rows)
        body = buffer.getvalue().encode()
    else:
        body = b"".join(
            msgspec.json.encode(dict(zip(names, row, strict=True))) + b"\n" for row in answer.rows
        )
    headers = {"content-disposition": _attachment("query", extension)}
    media_type = MEDIA_TYPES[chosen_format].split(";")[0]
    return Response(body, media_type=media_type, headers=headers)
