"""`/agreement`: how far an evaluator agrees with end users, per capability, with the confusion
matrix — the same figures as `GET /v1/agreement`."""

from datetime import UTC, datetime
from typing import Any, Final

from litestar import Request, Response, get
from sqlalchemy import Connection

from plaudit.analytics.agreement import items, span_pairs
from plaudit.console.evaluation_pages import AgreementPage, AgreementRow
from plaudit.console.render import page, started
from plaudit.console.views.common import chrome, signed_in
from plaudit.core.agreement import AgreementRequest, parse_request
from plaudit.core.feedback import Kind, Source
from plaudit.errors import PlauditError
from plaudit.store.agreement import rated_names
from plaudit.store.configs import list_configs

RANGES: Final = (("24h", "24 hours"), ("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days"),
                 ("", "All time"))  # fmt: skip
# The page opens on the last 30 days: recent enough to judge today's evaluator, and a bounded
# read on a large project. "All time" is an explicit choice (an empty `since`).
DEFAULT_SINCE: Final = "30d"
RATED: Final = {Kind.THUMB.value, Kind.BOOL.value, Kind.NUMBER.value}
# Names users give and names evaluators give are often configured alike; these hints pick the
# defaults when the page opens without a choice.
USER_HINTS: Final = ("response-quality", "thumbs_up")
JUDGE_HINTS: Final = ("llm-judge",)


def _choices(connection: Connection, project: str, source: Source) -> tuple[list[str], str]:
    """The names to choose among for one side — those its source gave as thumbs, bools or
    numbers, and every configured name of those kinds — and the one to open with: a usual
    name if present, else the first one given, else the first one configured."""
    seen = rated_names(connection, project)[source]
    configured = {c["name"] for c in list_configs(connection, project) if c.get("kind") in RATED}
    names = sorted(set(seen) | configured)
    hints = USER_HINTS if source is Source.END_USER else JUDGE_HINTS
    default = next((h for h in hints if h in seen), seen[0] if seen else "")
    return names, default or (names[0] if names else "")


def _row(item: dict[str, Any]) -> AgreementRow:
    confusion = item["confusion"]
    return AgreementRow(
        item["capability"] or "", item["n"], item["agreement"], item["kappa"], item["pearson"],
        confusion["tp"], confusion["fp"], confusion["fn"], confusion["tn"],
    )  # fmt: skip


def _figures(
    connection: Connection, project: str, wanted: AgreementRequest
) -> tuple[AgreementRow | None, list[AgreementRow]]:
    pairs = span_pairs(connection, project, wanted)  # read once, grouped twice
    overall = items(pairs, None)
    return (_row(overall[0]) if overall else None), [_row(i) for i in items(pairs, "capability")]


@get("/agreement", include_in_schema=False)
async def agreement_page(request: Request[Any, Any, Any]) -> Response[str]:
    """The form, and the figures of the chosen names (defaults when none are chosen)."""
    begun = started()
    state, session = signed_in(request)
    project = session.project
    users, user = await state.read(_choices, project, Source.END_USER)
    judges, judge = await state.read(_choices, project, Source.EVALUATOR)
    params = request.query_params
    user, judge = params.get("user") or user, params.get("evaluator") or judge
    since = params.get("since", DEFAULT_SINCE)
    overall: AgreementRow | None = None
    rows: list[AgreementRow] = []
    error = ""
    given = [(k, v) for k, v in (("user", user), ("evaluator", judge), ("since", since)) if v]
    wanted = parse_request(given, datetime.now(UTC)) if user and judge else []
    if isinstance(wanted, AgreementRequest):
        try:
            overall, rows = await state.read(_figures, project, wanted)
        except PlauditError as failure:
            error = failure.detail
    elif wanted:
        error = "; ".join(f"{i.pointer[1:]}: {i.message}" for i in wanted)
    context = AgreementPage(user, judge, since, users, judges, RANGES, overall, rows, error)
    return page("agreement.html", begun, chrome(session, "Agreement", "agreement"), context)


PAGES = [agreement_page]
