"""`/evaluations` (runs of a dataset), `/evaluations/{id}` (one run: figures, rows, scores and
errors) and `/evaluations/{id}/compare?baseline=…` (two runs side by side, row by row)."""

from typing import Any, Final
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.params import FromPath
from sqlalchemy import Connection

from plaudit.console.evaluation_pages import (
    ChangeCell,
    ChangeSummary,
    CompareLine,
    ComparePage,
    EvaluationsPage,
    ResultLine,
    RunPage,
    RunRow,
    ScoreCell,
    ScoreSummary,
)
from plaudit.console.pages import Chrome, ErrorPage
from plaudit.console.render import page, pretty, started, when
from plaudit.console.session import Session
from plaudit.console.views.common import chrome, signed_in
from plaudit.store.datasets import list_datasets
from plaudit.store.evaluations import (
    ScoreChange,
    compare,
    latest_finished,
    list_results,
    list_runs,
    run_json,
    run_row,
)

RUNS_PAGE: Final = 50
ROWS_PAGE: Final = 100
BASELINES: Final = 100
# The compare view lists at most this many rows of the filter chosen (the summary counts them
# all): a 10,000-row comparison stays a page a browser shows at once.
COMPARE_ROWS: Final = 500
STATUSES: Final = ("", "done", "error", "pending")
SHOWS: Final = (
    ("changed", "Changed"),
    ("regressed", "Regressed"),
    ("guardrails", "Guardrails"),
    ("all", "All rows"),
)
OUTPUT_CHARS: Final = 600


def _run_row(run: dict[str, Any], previous: str | None = None) -> RunRow:
    counts = run["counts"]
    scores = [
        ScoreSummary(name, figures["mean"], figures["pass_rate"])
        for name, figures in sorted(run["scores"].items())
    ]
    return RunRow(
        id=run["id"], name=run.get("name") or "", dataset=run["dataset"],
        dataset_version=run["dataset_version"], only=run.get("only") or "", status=run["status"],
        created_at=when(run.get("created_at")), finished_at=when(run.get("finished_at")),
        examples=counts["examples"], done=counts["done"], errors=counts["errors"], scores=scores,
        previous=previous,
    )  # fmt: skip


def _with_previous(runs: list[dict[str, Any]]) -> list[RunRow]:
    """Rows of runs (newest first), each knowing the next older run of its dataset listed."""
    rows = []
    for at, run in enumerate(runs):
        older = next((r["id"] for r in runs[at + 1 :] if r["dataset"] == run["dataset"]), None)
        rows.append(_run_row(run, older))
    return rows


def _not_found(since: float, session: Session, what: str) -> Response[str]:
    frame = chrome(session, "Not found", "evaluations")
    return page("error.html", since, frame, ErrorPage(404, what), status=404)


def _frame(session: Session, title: str) -> Chrome:
    return chrome(session, title, "evaluations")


@get("/evaluations", include_in_schema=False)
async def evaluations_page(request: Request[Any, Any, Any]) -> Response[str]:
    """Runs newest first, of the dataset chosen (`?dataset=`) or of every dataset."""
    since = started()
    state, session = signed_in(request)
    project = session.project
    dataset = request.query_params.get("dataset", "")
    after = request.query_params.get("after") or None
    datasets = await state.read(list_datasets, project, None, 1000)
    found = await state.read(list_runs, project, dataset or None, after, RUNS_PAGE + 1)
    more = len(found) > RUNS_PAGE
    runs = found[:RUNS_PAGE]
    next_url = ""
    if more:
        next_url = "?" + urlencode({k: v for k, v in (("dataset", dataset),
                                                      ("after", runs[-1]["id"])) if v})  # fmt: skip
    context = EvaluationsPage(
        [d["name"] for d in datasets], dataset, _with_previous(runs), next_url
    )
    return page("evaluations.html", since, _frame(session, "Evaluations"), context)


def _cell(name: str, score: dict[str, Any] | None) -> ScoreCell:
    if score is None:
        return ScoreCell(name, "", None)
    return ScoreCell(name, _value(score["value"]), score["passed"], score.get("comment") or "")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _output(value: Any) -> str:
    text = "" if value is None else value if isinstance(value, str) else pretty(value)
    return text if len(text) <= OUTPUT_CHARS else text[:OUTPUT_CHARS] + "…"


def _line(result: dict[str, Any], names: list[str]) -> ResultLine:
    scores = result["scores"]
    return ResultLine(
        example_id=result["example_id"], status=result["status"], output=_output(result["output"]),
        error=result["error"] or "", trace_id=result["trace_id"], span_id=result["span_id"],
        scores=[_cell(name, scores.get(name)) for name in names],
    )  # fmt: skip


def _run_page(
    connection: Connection, project: str, row: Any, status: str, after: str | None
) -> RunPage:
    run = run_json(connection, project, row)
    results = list_results(connection, project, row["id"], status or None, after, ROWS_PAGE + 1)
    names = sorted(set(run["scores"]) | {n for r in results for n in r["scores"]})
    others = [
        r for r in list_runs(connection, project, row["dataset"], None, BASELINES)
        if r["id"] != row["id"]
    ]  # fmt: skip
    baseline = latest_finished(connection, project, row["dataset"], row["id"]) or ""
    next_url = ""
    if len(results) > ROWS_PAGE:
        last = results[ROWS_PAGE - 1]["example_id"]
        next_url = "?" + urlencode({k: v for k, v in (("status", status), ("after", last)) if v})
    return RunPage(
        run=_run_row(run), score_names=names,
        rows=[_line(r, names) for r in results[:ROWS_PAGE]], status=status, statuses=STATUSES,
        baselines=[(r["id"], _label(r)) for r in others], baseline=baseline, next_url=next_url,
    )  # fmt: skip


def _label(run: dict[str, Any]) -> str:
    name = f"{run['name']} · " if run.get("name") else ""
    return f"{name}{when(run.get('created_at'))} · {run['status']} · {run['id'][:13]}"


@get("/evaluations/{run_id:str}", include_in_schema=False)
async def run_page(request: Request[Any, Any, Any], run_id: FromPath[str]) -> Response[str]:
    """One run: counts, each score's mean and pass rate, and its rows (`?status=`, `?after=`)."""
    since = started()
    state, session = signed_in(request)
    project = session.project
    row = await state.read(run_row, project, run_id)
    if row is None:
        return _not_found(since, session, f"There is no evaluation run {run_id}.")
    status = request.query_params.get("status", "")
    status = status if status in STATUSES else ""
    after = request.query_params.get("after") or None
    context = await state.read(_run_page, project, row, status, after)
    title = f"Evaluation {row['name'] or run_id[:13]}"
    return page("evaluation.html", since, _frame(session, title), context)


def _compare_line(
    example_id: str,
    scores: dict[str, ScoreChange],
    names: list[str],
    guarded: dict[str, set[str]],
    after: str,
    flags: dict[str, bool],
) -> CompareLine:
    cells = []
    for name in names:
        score, flagged = scores.get(name), example_id in guarded.get(name, ())
        if score is None:
            cells.append(ChangeCell(name, "", "", "", flagged))
        else:
            baseline, run = _shown(score.baseline), _shown(score.run)
            cells.append(ChangeCell(name, baseline, run, score.change, flagged))
    return CompareLine(
        example_id, cells, flags["guardrails"], flags["regressed"], flags["improved"], after
    )


def _shown(value: Any) -> str:
    return "" if value is None else _value(value)


def _compare_page(
    connection: Connection, project: str, run: Any, baseline: Any, show: str
) -> ComparePage:
    """The comparison, with every row counted under each filter but only the rows listed built
    (a 10,000-row comparison lists at most `COMPARE_ROWS`)."""
    compared = compare(connection, project, run, baseline)
    names = sorted(set(compared["summary"]) | set(compared["guardrails"]))
    guarded = {name: set(ids) for name, ids in compared["guardrails"].items()}
    counts = dict.fromkeys(dict(SHOWS), 0)
    rows: list[CompareLine] = []
    before = ""  # the run's page lists rows in this order: a row is shown "after" the one before
    for item in compared["items"]:
        example_id, scores = item["example_id"], item["scores"]
        changes = {score.change for score in scores.values()}
        flags = {
            "regressed": "regressed" in changes,
            "improved": "improved" in changes,
            "guardrails": any(example_id in ids for ids in guarded.values()),
        }
        flags["changed"] = flags["regressed"] or flags["improved"]
        flags["all"] = True
        for key in counts:
            counts[key] += flags[key]
        if flags[show] and len(rows) < COMPARE_ROWS:
            rows.append(_compare_line(example_id, scores, names, guarded, before, flags))
        before = example_id
    summary = [
        ChangeSummary(name, counted["improved"], counted["regressed"], counted["unchanged"],
                      len(guarded.get(name, ())))
        for name, counted in sorted(compared["summary"].items())
    ]  # fmt: skip
    return ComparePage(
        run=_run_row(run_json(connection, project, run)),
        baseline=_run_row(run_json(connection, project, baseline)),
        summary=summary, score_names=names, rows=rows, show=show,
        shows=tuple((value, label, counts[value]) for value, label in SHOWS),
        matching=counts[show], limit=COMPARE_ROWS,
    )  # fmt: skip


@get("/evaluations/{run_id:str}/compare", include_in_schema=False)
async def compare_page(request: Request[Any, Any, Any], run_id: FromPath[str]) -> Response[str]:
    """The run beside `?baseline=` (default: the dataset's newest other finished run), row by
    row; `?show=changed|regressed|guardrails|all` picks the rows listed."""
    since = started()
    state, session = signed_in(request)
    project = session.project
    run = await state.read(run_row, project, run_id)
    if run is None:
        return _not_found(since, session, f"There is no evaluation run {run_id}.")
    wanted = request.query_params.get("baseline") or ""
    if not wanted or wanted == "latest":
        wanted = await state.read(latest_finished, project, run["dataset"], run_id) or ""
    baseline = await state.read(run_row, project, wanted) if wanted else None
    if baseline is None or baseline["dataset"] != run["dataset"] or baseline["id"] == run_id:
        what = (
            f"Run {wanted} is not another run of dataset {run['dataset']}."
            if wanted
            else f"Dataset {run['dataset']} has no other finished run to compare with."
        )
        return _not_found(since, session, what)
    show = request.query_params.get("show", "changed")
    show = show if show in dict(SHOWS) else "changed"
    context = await state.read(_compare_page, project, run, baseline, show)
    return page("evaluation_compare.html", since, _frame(session, "Compare runs"), context)


PAGES = [evaluations_page, run_page, compare_page]
