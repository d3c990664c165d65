"""`/traces`: every trace, or those a search matches, newest, longest or most discussed first.

`q` is the language of `GET /v1/traces?q=` (`feedback.response-quality = -1 and
span.gen_ai.request.model = "gpt-4o"`), read by the same parser and searched by the same store
function. Without `q` the list is the newest root spans (`ix_spans_roots`). A page is 50 traces,
then one bounded read of their spans and feedback by trace id.

Orders other than time: without `q` the database sorts the range (root durations, or feedback
counts per trace); with `q` the newest `CANDIDATES` matches are sorted, and the page says so —
a search ranks by its newest match, and sorting every match of a broad search is not bounded.
"""

from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode

from litestar import Request, Response, get
from sqlalchemy import Connection

from plaudit.console.marks import Ranges, mark_badge, number_ranges
from plaudit.console.render import page, started, when
from plaudit.console.time_range import picker, window
from plaudit.console.trace_pages import FeedbackSummary, SortChoice, TraceLine, TracesPage
from plaudit.console.views.common import chrome, query_params, signed_in
from plaudit.core.ids import is_trace_id
from plaudit.core.query.fields import TRACE_ROOTS
from plaudit.core.query.model import Filter, QueryError
from plaudit.core.query.text import parse_filters
from plaudit.store.event_search import search_traces
from plaudit.store.sql_aggregate import Window
from plaudit.store.trace_summaries import (
    TraceSummary,
    longest_traces,
    most_discussed_traces,
    newest_traces,
    summaries,
)

PAGE_SIZE: Final = 50
CANDIDATES: Final = 1_000
MAX_PAGE: Final = 200
SORTS: Final = {"time": "Newest", "duration": "Longest", "feedback": "Most feedback"}
EXAMPLES: Final = (
    "feedback.response-quality = -1",
    'capability = "support-agent" and feedback.star-rating <= 2',
    'span.gen_ai.request.model = "gpt-4o"',
)
BAD_POSITION: Final = "`after` is not a position this list gave out; start from the first page"


def summary_of(ranges: Ranges, line: TraceSummary, badges: int = 4) -> FeedbackSummary:
    """The feedback of a trace in brief."""
    marks = [mark_badge(ranges, m) for m in line.feedback]
    good = sum(1 for b in marks if b.tone == "good")
    bad = sum(1 for b in marks if b.tone == "bad")
    return FeedbackSummary(len(marks), good, bad, marks[:badges])


def trace_line(ranges: Ranges, line: TraceSummary) -> TraceLine:
    """A trace as a row of a list."""
    return TraceLine(
        trace_id=line.trace_id,
        time=when(datetime.fromtimestamp(line.start_ns / 1e9, UTC)),
        name=line.name,
        capability=line.capability or "",
        duration_ms=line.duration_ms,
        status="error" if line.errors else "ok",
        spans=line.spans,
        feedback=summary_of(ranges, line),
        user_id=line.user_id or "",
        conversation_id=line.conversation_id or "",
        service=line.service or "",
    )


def _position(text: str | None) -> tuple[int, str] | None:
    if not text:
        return None
    at, _, trace_id = text.partition(".")
    if not (at.isascii() and at.isdigit() and len(at) <= 20 and is_trace_id(trace_id)):
        raise QueryError(BAD_POSITION)
    if int(at) >= 2**63:
        raise QueryError(BAD_POSITION)
    return int(at), trace_id


def _page_number(text: str | None) -> int:
    if not text:
        return 0
    if not (text.isascii() and text.isdigit() and int(text) <= MAX_PAGE):
        raise QueryError(f"`page` is a number from 0 to {MAX_PAGE}")
    return int(text)


def _searched(
    connection: Connection,
    project: str,
    filters: list[Filter],
    span: Window,
    after: tuple[int, str] | None,
    limit: int,
) -> list[tuple[int, str]]:
    """Matches of the search within the range, newest match first: (micros, trace id)."""
    if after is None and span.until is not None:
        # Strictly before `until`: the search's keyset continues after (until, "").
        after = (span.until, "")
    hits = search_traces(connection, project, filters, after, limit)
    floor = span.since
    return [(h.matched_at, h.trace_id) for h in hits if floor is None or h.matched_at >= floor]


def read_traces(
    connection: Connection,
    project: str,
    filters: list[Filter] | None,
    span: Window,
    sort: str,
    after: tuple[int, str] | None,
    page_number: int,
) -> tuple[list[TraceSummary], tuple[int, str] | None, bool]:
    """A page of traces: (lines, the time position after it, whether more follow)."""
    offset = page_number * PAGE_SIZE
    if filters is None:
        if sort == "time":
            found = newest_traces(connection, project, span, after, PAGE_SIZE + 1)
            page_ids = [t for _, t in found[:PAGE_SIZE]]
            last = found[PAGE_SIZE - 1] if len(found) > PAGE_SIZE else None
            return summaries(connection, project, page_ids), last, last is not None
        pick = longest_traces if sort == "duration" else most_discussed_traces
        ids = pick(connection, project, span, offset, PAGE_SIZE + 1)
        return summaries(connection, project, ids[:PAGE_SIZE]), None, len(ids) > PAGE_SIZE
    if sort == "time":
        hits = _searched(connection, project, filters, span, after, PAGE_SIZE + 1)
        last = hits[PAGE_SIZE - 1] if len(hits) > PAGE_SIZE else None
        lines = summaries(connection, project, [t for _, t in hits[:PAGE_SIZE]])
        return lines, last, last is not None
    hits = _searched(connection, project, filters, span, None, CANDIDATES)
    lines = summaries(connection, project, [t for _, t in hits])
    if sort == "duration":
        lines.sort(key=lambda line: (-(line.end_ns - line.start_ns), line.trace_id))
    else:
        lines.sort(key=lambda line: (-len(line.feedback), line.trace_id))
    return lines[offset : offset + PAGE_SIZE], None, len(lines) > offset + PAGE_SIZE


def _url(params: dict[str, str], **changes: str | None) -> str:
    merged = {**params, **changes}
    return "/traces?" + urlencode({k: v for k, v in merged.items() if v})


@get("/traces", include_in_schema=False)
async def traces_page(request: Request[Any, Any, Any]) -> Response[str]:
    """The list: `q`, `sort`, `since`/`until`; `after` or `page` for the pages past the first."""
    since = started()
    state, session = signed_in(request)
    params = query_params(request)
    params.setdefault("since", "7d")
    q = params.get("q", "")
    sort = params.get("sort", "time")
    if sort not in SORTS:
        sort = "time"
    rows: list[TraceLine] = []
    next_url = previous_url = None
    error = note = ""
    try:
        filters = parse_filters(q, TRACE_ROOTS) if q else None
        span = window(params, datetime.now(UTC))
        after = _position(params.get("after")) if sort == "time" else None
        number = _page_number(params.get("page")) if sort != "time" else 0
    except QueryError as problem:
        at = f" (at position {problem.position})" if problem.position is not None else ""
        error = f"{problem.message}{at}"
    else:
        lines, last, more = await state.read(
            read_traces, session.project, filters, span, sort, after, number
        )
        ranges = await number_ranges(state, session.project)
        rows = [trace_line(ranges, line) for line in lines]
        if more and sort == "time" and last is not None:
            next_url = _url(params, after=f"{last[0]}.{last[1]}", page=None)
        elif more:
            next_url = _url(params, page=str(number + 1), after=None)
        if after is not None or number:
            previous_url = _url(params, after=None, page=str(number - 1) if number > 1 else None)
        if filters is not None and sort != "time":
            note = f"Sorted among the newest {CANDIDATES:,} traces this search matches."
    sorts = [
        SortChoice(key, label, _url(params, sort=key, after=None, page=None), key == sort)
        for key, label in SORTS.items()
    ]
    context = TracesPage(
        q=q, sort=sort, sorts=sorts, rows=rows, next_url=next_url, previous_url=previous_url,
        picker=picker("/traces", params, params.get("since", ""), params.get("until", "")),
        examples=EXAMPLES, error=error, note=note,
    )  # fmt: skip
    return page("traces.html", since, chrome(session, "Traces", "traces"), context)
