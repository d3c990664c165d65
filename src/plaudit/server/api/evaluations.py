"""`/v1/evaluations`: evaluation runs over a dataset version, their results (each score also
stored as evaluator feedback) and the comparison of two runs."""

from datetime import UTC, datetime
from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery, QueryParameter

from plaudit.core.ids import uuid7
from plaudit.core.validation import Issue
from plaudit.errors import Conflict, NotFound, ValidationFailed
from plaudit.loop.evaluations import ResultsIn, RunIn, StoreResults, checked_results
from plaudit.server.api.loop_requests import (
    checked_name,
    decode_name_cursor,
    editor,
    page_of,
    reader,
)
from plaudit.server.bodies import json_body
from plaudit.server.state import JSON, ServerState, state_of
from plaudit.store.evaluations import (
    compare,
    create_run,
    get_run,
    known_examples,
    latest_finished,
    list_results,
    list_runs,
    run_row,
)
from plaudit.store.writer import Call

Limit = Annotated[int, QueryParameter(ge=1, le=1000)]
_STATUSES = (None, "pending", "done", "error")


def _json(body: Any, status: int = 200) -> Response[bytes]:
    return Response(msgspec.json.encode(body), media_type=JSON, status_code=status)


async def _run(state: ServerState, project: str, run_id: str) -> Any:
    row = await state.read(run_row, project, run_id)
    if row is None:
        raise NotFound(f"no evaluation {run_id!r} in project {project!r}")
    return row


@post("/v1/evaluations", summary="Start an evaluation run", tags=["evaluations"], status_code=201)
async def post_evaluation(request: Request[Any, Any, Any]) -> Response[bytes]:
    """`{"dataset","name"?,"dataset_version"?,"only"?: "guardrails"|"filled","id"?}` → the run
    with a pending row per example it covers; 404 without the dataset, 409 if `id` is taken."""
    principal = await editor(request)
    state = state_of(request)
    body: RunIn = await json_body(request, RunIn)
    run_id = body.id or uuid7()
    now = datetime.now(UTC)

    def create(connection: Any) -> dict[str, Any]:
        if run_row(connection, principal.project, run_id) is not None:
            raise Conflict(f"an evaluation {run_id!r} already exists")
        return create_run(
            connection,
            principal.project,
            run_id,
            body.name,
            body.dataset,
            body.dataset_version,
            body.only,
            now,
        )

    return _json(await state.write(Call(create)), 201)


@get("/v1/evaluations", summary="List evaluation runs", tags=["evaluations"])
async def get_evaluations(
    request: Request[Any, Any, Any],
    dataset: FromQuery[str | None] = None,
    limit: Limit = 100,
    cursor: FromQuery[str | None] = None,
) -> Response[bytes]:
    """Runs newest first (of one dataset with `dataset=`), each with counts and scores."""
    principal = await reader(request)
    if dataset is not None:
        checked_name(dataset, "/dataset")
    after = decode_name_cursor(cursor)
    items = await state_of(request).read(list_runs, principal.project, dataset, after, limit + 1)
    return _json(page_of(items, limit, "id"))


@get("/v1/evaluations/{run_id:str}", summary="One evaluation run", tags=["evaluations"])
async def get_evaluation(request: Request[Any, Any, Any], run_id: FromPath[str]) -> Response[bytes]:
    """The run with `counts: {examples, done, errors}` and each score's mean and pass rate."""
    principal = await reader(request)
    found = await state_of(request).read(get_run, principal.project, run_id)
    if found is None:
        raise NotFound(f"no evaluation {run_id!r} in project {principal.project!r}")
    return _json(found)


@post(
    "/v1/evaluations/{run_id:str}/results",
    summary="Store results of a run",
    tags=["evaluations"],
    status_code=200,
)
async def post_results(request: Request[Any, Any, Any], run_id: FromPath[str]) -> Response[bytes]:
    """`{"results":[{"example_id","output","trace_id"?,"span_id"?,"scores":{name: value},
    "error"?}]}`; posting an example again replaces its result. Each score is also feedback
    (`source=evaluator`) on the result's span, else on the span its example came from."""
    principal = await editor(request)
    state = state_of(request)
    run = await _run(state, principal.project, run_id)
    body: ResultsIn = await json_body(request, ResultsIn)
    ids = [r.example_id for r in body.results]
    covered = await state.read(known_examples, principal.project, run_id, ids)
    configs = await anyio.to_thread.run_sync(state.configs.load, principal.project)
    now = datetime.now(UTC)
    checked = checked_results(run, body, covered, configs, now)
    record = None
    if checked.events:
        record = await state.feedback_op(principal.project, checked.events, now, principal.token_id)
    op = StoreResults(principal.project, run_id, checked.rows, record, now)
    return _json(await state.write(op))


@get(
    "/v1/evaluations/{run_id:str}/results",
    summary="The results of a run",
    tags=["evaluations"],
)
async def get_results(
    request: Request[Any, Any, Any],
    run_id: FromPath[str],
    status: FromQuery[str | None] = None,
    limit: Limit = 100,
    cursor: FromQuery[str | None] = None,
) -> Response[bytes]:
    """Rows by example id (only `pending`, `done` or `error` ones with `status=`), each with
    its output, span and scores (`{name: {"value","passed","comment"}}`)."""
    principal = await reader(request)
    state = state_of(request)
    await _run(state, principal.project, run_id)
    if status not in _STATUSES:
        problem = "must be 'pending', 'done' or 'error'"
        raise ValidationFailed(f"/status: {problem}", issues=[Issue("/status", problem)])
    after = decode_name_cursor(cursor)
    items = await state.read(list_results, principal.project, run_id, status, after, limit + 1)
    return _json(page_of(items, limit, "example_id"))


@get(
    "/v1/evaluations/{run_id:str}/compare",
    summary="Compare a run with a baseline run",
    tags=["evaluations"],
)
async def get_compare(
    request: Request[Any, Any, Any], run_id: FromPath[str], baseline: FromQuery[str] = "latest"
) -> Response[bytes]:
    """Every example of the run with each score in the run and the baseline and its change
    (`improved`, `regressed`, `unchanged`, `new`), a summary per score, and `guardrails`: per
    score, the run's examples that failed it in an earlier run of the dataset. `baseline=latest`
    (the default) is the dataset's newest finished run other than this one."""
    principal = await reader(request)
    state = state_of(request)
    project = principal.project
    run = await _run(state, project, run_id)
    if baseline == "latest":
        found = await state.read(latest_finished, project, run["dataset"], run_id)
        if found is None:
            raise NotFound(f"dataset {run['dataset']!r} has no other finished run to compare with")
        baseline = found
    other = await _run(state, project, baseline)
    if other["dataset"] != run["dataset"]:
        problem = f"is a run of dataset {other['dataset']!r}, not {run['dataset']!r}"
        raise ValidationFailed(f"/baseline: {problem}", issues=[Issue("/baseline", problem)])
    return _json(await state.read(compare, project, run, other))


ROUTES = [
    post_evaluation,
    get_evaluations,
    get_evaluation,
    post_results,
    get_results,
    get_compare,
]
