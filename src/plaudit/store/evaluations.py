"""Evaluation runs, their per-example results and scores in the database.

A run is created with one `pending` row per example it covers (a dataset version, or the part of
it `only` picks), so what is left of an interrupted run is one indexed read. Results replace an
example's row and its scores (posting the same example again revises, never adds); the run is
`finished` in the transaction that stores its last pending example. Scores keep the verdict they
were given when stored, so a run's means, pass rates, comparisons and the dataset's guardrails
are SQL over `evaluation_scores`.

Functions the console reads: `list_runs` (runs of a dataset, newest first, with counts and
scores), `run_json` (one run with counts and scores), `list_results` (its rows), `compare` (two
runs row by row with the change of each score, guardrails flagged).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

import msgspec
from sqlalchemy import (
    Connection,
    Integer,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    or_,
    select,
    update,
)

from plaudit.core.times import rfc3339
from plaudit.core.validation import Issue
from plaudit.errors import NotFound, ValidationFailed
from plaudit.store.bulk import CHUNK, insert_rows
from plaudit.store.datasets import dataset_row
from plaudit.store.schema import (
    dataset_examples,
    evaluation_results,
    evaluation_runs,
    evaluation_scores,
    to_micros,
)

Only = Literal["guardrails", "filled"]
ResultStatus = Literal["created", "revised"]
Change = Literal["improved", "regressed", "unchanged", "new"]
PENDING: Final = "pending"
DONE: Final = "done"
ERROR: Final = "error"
_runs = evaluation_runs.c
_results = evaluation_results.c
_scores = evaluation_scores.c
_ex = dataset_examples.c


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else rfc3339(moment)


@dataclass
class ScoreRow:
    """One score of one example, with its verdict."""

    name: str
    value: bool | int | float
    """As stored: a thumb as +1 or -1."""
    number: float
    passed: bool
    comment: str | None = None


@dataclass
class ResultRow:
    """One example's result: its output and scores, or the error that stopped it."""

    example_id: str
    output: Any = None
    trace_id: str | None = None
    span_id: str | None = None
    error: str | None = None
    scores: list[ScoreRow] = field(default_factory=list)


def run_row(connection: Connection, project: str, run_id: str) -> Any:
    """The run's row, or None."""
    query = select(evaluation_runs).where(_runs.project == project, _runs.id == run_id)
    return connection.execute(query).mappings().first()


def _version_rows(
    connection: Connection, project: str, dataset: str, version: int, filled: bool
) -> list[tuple[str, str | None, str | None]]:
    """(id, source trace id, source span id) of each example of `version`, by id."""
    query = select(_ex.id, _ex.content["source"]).where(
        _ex.project == project,
        _ex.dataset == dataset,
        _ex.version_from <= version,
        or_(_ex.version_to.is_(None), _ex.version_to > version),
    )
    if filled:
        query = query.where(_ex.annotation_status == "filled")
    found = []
    for example_id, source in connection.execute(query.order_by(_ex.id)):
        trace_id = span_id = None
        if isinstance(source, dict):
            trace_id, span_id = source.get("trace_id"), source.get("span_id")
        found.append((example_id, trace_id, span_id))
    return found


def _earlier_runs(
    connection: Connection, project: str, dataset: str, before: Any | None
) -> list[str]:
    """The ids of the dataset's runs created before the run `before` (all runs when None)."""
    query = select(_runs.id).where(_runs.project == project, _runs.dataset == dataset)
    if before is not None:
        query = query.where(
            or_(
                _runs.created_at < before["created_at"],
                and_(_runs.created_at == before["created_at"], _runs.id < before["id"]),
            )
        )
    return list(connection.scalars(query))


def guardrails(
    connection: Connection, project: str, dataset: str, before: Any | None = None
) -> dict[str, set[str]]:
    """Score name → the examples that failed it in a run of the dataset earlier than the run
    `before` (in any run when None)."""
    runs = _earlier_runs(connection, project, dataset, before)
    found: dict[str, set[str]] = {}
    for start in range(0, len(runs), CHUNK):
        query = (
            select(_scores.name, _scores.example_id)
            .where(
                _scores.project == project,
                _scores.run.in_(runs[start : start + CHUNK]),
                _scores.passed == false(),
            )
            .distinct()
        )
        for name, example_id in connection.execute(query):
            found.setdefault(name, set()).add(example_id)
    return found


def create_run(
    connection: Connection,
    project: str,
    run_id: str,
    name: str | None,
    dataset: str,
    version: int | None,
    only: Only | None,
    now: datetime,
) -> dict[str, Any]:
    """A new run over the dataset's `version` (its newest when None), with a pending row for
    each example it covers; NotFound without the dataset, 422 for a version it never had."""
    found = dataset_row(connection, project, dataset)
    if found is None:
        raise NotFound(f"no dataset {dataset!r} in project {project!r}")
    if version is None:
        version = int(found["version"])
    elif not 0 <= version <= found["version"]:
        problem = f"dataset {dataset!r} has versions 0 to {found['version']}"
        raise ValidationFailed(
            f"/dataset_version: {problem}", issues=[Issue("/dataset_version", problem)]
        )
    examples = _version_rows(connection, project, dataset, version, only == "filled")
    if only == "guardrails":
        failed = set().union(*guardrails(connection, project, dataset).values())
        examples = [e for e in examples if e[0] in failed]
    ids = [e[0] for e in examples]
    micros = to_micros(now)
    status = "finished" if not ids else "running"
    insert_rows(
        connection,
        evaluation_runs,
        [
            {
                "project": project,
                "id": run_id,
                "name": name,
                "dataset": dataset,
                "dataset_version": version,
                "only": only,
                "status": status,
                "examples": len(ids),
                "created_at": micros,
                "finished_at": micros if not ids else None,
            }
        ],
    )
    # A pending row names the span its example came from: a result that names no span of its
    # own is placed there (see plaudit.loop.evaluations).
    pending = [
        {"project": project, "run": run_id, "example_id": example_id, "status": PENDING,
         "trace_id": trace_id, "span_id": span_id}
        for example_id, trace_id, span_id in examples
    ]  # fmt: skip
    insert_rows(connection, evaluation_results, pending)
    row = run_row(connection, project, run_id)
    return run_json(connection, project, row)


def _counts(connection: Connection, project: str, runs: Sequence[str]) -> dict[str, dict[str, int]]:
    query = (
        select(_results.run, _results.status, func.count())
        .where(_results.project == project, _results.run.in_(runs))
        .group_by(_results.run, _results.status)
    )
    counted: dict[str, dict[str, int]] = {run: {} for run in runs}
    for run, status, n in connection.execute(query):
        counted[run][status] = int(n)
    return counted


def _summaries(
    connection: Connection, project: str, runs: Sequence[str]
) -> dict[str, dict[str, dict[str, float]]]:
    passed = cast(case((_scores.passed.is_(True), 1), else_=0), Integer)
    query = (
        select(_scores.run, _scores.name, func.avg(_scores.number), func.avg(passed))
        .where(_scores.project == project, _scores.run.in_(runs))
        .group_by(_scores.run, _scores.name)
        .order_by(_scores.name)
    )
    found: dict[str, dict[str, dict[str, float]]] = {run: {} for run in runs}
    for run, name, mean, rate in connection.execute(query):
        found[run][name] = {"mean": float(mean), "pass_rate": float(rate)}
    return found


def _json(row: Any, counted: dict[str, int], scores: dict[str, dict[str, float]]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "dataset": row["dataset"],
        "dataset_version": row["dataset_version"],
        "only": row["only"],
        "status": row["status"],
        "counts": {
            "examples": row["examples"],
            "done": counted.get(DONE, 0),
            "errors": counted.get(ERROR, 0),
        },
        "scores": scores,
        "created_at": _iso(row["created_at"]),
        "finished_at": _iso(row["finished_at"]),
    }


def run_json(connection: Connection, project: str, row: Any) -> dict[str, Any]:
    """One run as the API shows it: counts of examples, done and errors; each score's mean
    and pass rate."""
    run_id = row["id"]
    counted = _counts(connection, project, [run_id])[run_id]
    return _json(row, counted, _summaries(connection, project, [run_id])[run_id])


def get_run(connection: Connection, project: str, run_id: str) -> dict[str, Any] | None:
    """One run with counts and scores (`run_json`), or None."""
    row = run_row(connection, project, run_id)
    return None if row is None else run_json(connection, project, row)


def list_runs(
    connection: Connection, project: str, dataset: str | None, after: str | None, limit: int
) -> list[dict[str, Any]]:
    """Runs newest first (of one dataset, or all), each with counts and scores; a page
    continues after the run `after`."""
    query = select(evaluation_runs).where(_runs.project == project)
    if dataset is not None:
        query = query.where(_runs.dataset == dataset)
    if after is not None:
        last = run_row(connection, project, after)
        if last is None:
            return []
        query = query.where(
            or_(
                _runs.created_at < last["created_at"],
                and_(_runs.created_at == last["created_at"], _runs.id < last["id"]),
            )
        )
    order = query.order_by(_runs.created_at.desc(), _runs.id.desc()).limit(limit)
    rows = list(connection.execute(order).mappings())
    ids = [row["id"] for row in rows]
    counted = _counts(connection, project, ids)
    scores = _summaries(connection, project, ids)
    return [_json(row, counted[row["id"]], scores[row["id"]]) for row in rows]


def latest_finished(
    connection: Connection, project: str, dataset: str, other_than: str | None = None
) -> str | None:
    """The id of the dataset's newest finished run (other than `other_than`), or None."""
    query = select(_runs.id).where(
        _runs.project == project, _runs.dataset == dataset, _runs.status == "finished"
    )
    if other_than is not None:
        query = query.where(_runs.id != other_than)
    newest = query.order_by(_runs.created_at.desc(), _runs.id.desc()).limit(1)
    found: str | None = connection.scalars(newest).first()
    return found


def _scores_of(
    connection: Connection, project: str, run_id: str, example_ids: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """example id → score name → `{"value","passed","comment"}`."""
    query = select(
        _scores.example_id, _scores.name, _scores.value, _scores.passed, _scores.comment
    ).where(_scores.project == project, _scores.run == run_id)
    batches = [query]
    if example_ids is not None:
        wanted = sorted(set(example_ids))
        batches = [
            query.where(_scores.example_id.in_(wanted[i : i + CHUNK]))
            for i in range(0, len(wanted), CHUNK)
        ]
    found: dict[str, dict[str, Any]] = {}
    for batch in batches:
        for example_id, name, value, passed, comment in connection.execute(batch):
            entry = {"value": value, "passed": bool(passed), "comment": comment}
            found.setdefault(example_id, {})[name] = entry
    return found


def list_results(
    connection: Connection,
    project: str,
    run_id: str,
    status: str | None,
    after: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """A run's rows by example id after `after` (optionally of one status), each with its
    scores: `{"example_id","status","output","trace_id","span_id","error","scores"}`."""
    query = select(
        _results.example_id,
        _results.status,
        _results.output,
        _results.trace_id,
        _results.span_id,
        _results.error,
    ).where(_results.project == project, _results.run == run_id)
    if status is not None:
        query = query.where(_results.status == status)
    if after is not None:
        query = query.where(_results.example_id > after)
    rows = connection.execute(query.order_by(_results.example_id).limit(limit)).mappings().all()
    scores = _scores_of(connection, project, run_id, [r["example_id"] for r in rows])
    return [{**row, "scores": scores.get(row["example_id"], {})} for row in rows]


@dataclass(frozen=True)
class Known:
    """What a run holds for one example: its status and the span its result is placed on."""

    status: str
    trace_id: str | None
    span_id: str | None


def known_examples(
    connection: Connection, project: str, run_id: str, example_ids: Iterable[str]
) -> dict[str, Known]:
    """example id → its row in the run, for those of `example_ids` the run covers."""
    wanted = sorted(set(example_ids))
    found: dict[str, Known] = {}
    for start in range(0, len(wanted), CHUNK):
        query = select(
            _results.example_id, _results.status, _results.trace_id, _results.span_id
        ).where(
            _results.project == project,
            _results.run == run_id,
            _results.example_id.in_(wanted[start : start + CHUNK]),
        )
        found.update({row[0]: Known(row[1], row[2], row[3]) for row in connection.execute(query)})
    return found


def store_results(
    connection: Connection, project: str, run_id: str, rows: Sequence[ResultRow], now: datetime
) -> dict[str, ResultStatus]:
    """Replace each example's result and scores (`created` the first time, else `revised`);
    the run is finished when no example is left pending. Examples outside the run are the
    caller's to refuse beforehand."""
    known = known_examples(connection, project, run_id, [r.example_id for r in rows])
    prior = {example_id: row.status for example_id, row in known.items()}
    micros = to_micros(now)
    # Only examples stored before have scores to replace.
    ids = sorted({r.example_id for r in rows if prior.get(r.example_id) != PENDING})
    for start in range(0, len(ids), CHUNK):
        connection.execute(
            delete(evaluation_scores).where(
                _scores.project == project,
                _scores.run == run_id,
                _scores.example_id.in_(ids[start : start + CHUNK]),
            )
        )
    latest = {r.example_id: r for r in rows}  # the last result of an example wins
    results = [
        {
            "project": project,
            "run": run_id,
            "example_id": r.example_id,
            "status": ERROR if r.error is not None else DONE,
            "output": r.output,
            "trace_id": r.trace_id,
            "span_id": r.span_id,
            "error": r.error,
            "updated_at": micros,
        }
        for r in latest.values()
    ]
    insert_rows(connection, evaluation_results, results, conflict=("project", "run", "example_id"))
    scores = [
        {
            "project": project,
            "run": run_id,
            "example_id": r.example_id,
            "name": s.name,
            "value": s.value,
            "number": s.number,
            "passed": s.passed,
            "comment": s.comment,
        }
        for r in latest.values()
        for s in r.scores
    ]
    insert_rows(connection, evaluation_scores, scores)
    _finish_if_done(connection, project, run_id, micros)
    return {i: "created" if prior.get(i) == PENDING else "revised" for i in latest}


def _finish_if_done(connection: Connection, project: str, run_id: str, micros: int) -> None:
    left = connection.execute(
        select(func.count())
        .select_from(evaluation_results)
        .where(_results.project == project, _results.run == run_id, _results.status == PENDING)
    ).scalar_one()
    if left == 0:
        connection.execute(
            update(evaluation_runs)
            .where(_runs.project == project, _runs.id == run_id, _runs.status != "finished")
            .values(status="finished", finished_at=micros)
        )


def _change(run: bool | None, baseline: bool | None) -> Change:
    """How a score moved between the baseline and the run, by its verdicts (None: absent)."""
    if baseline is None:
        return "new"
    if run is None:
        # The run's row failed with an error: a regression of every score it passed.
        return "regressed" if baseline else "unchanged"
    if run == baseline:
        return "unchanged"
    return "improved" if run else "regressed"


# Both runs' scores in one ordered pass of plain driver rows: 10,000 rows are read and answered
# in a few tens of milliseconds.
_COMPARE: Final = (
    "SELECT r.example_id, s.name, s.value, s.passed, b.value, b.passed FROM evaluation_results r "
    "LEFT JOIN evaluation_scores s ON s.project = r.project AND s.run = r.run "
    "AND s.example_id = r.example_id "
    "LEFT JOIN evaluation_scores b ON b.project = r.project AND b.run = {m} "
    "AND b.example_id = r.example_id AND b.name = s.name "
    "WHERE r.project = {m} AND r.run = {m} ORDER BY r.example_id, s.name"
)
# The baseline's scores of the rows the run failed with an error (which have no score of theirs).
_LOST: Final = (
    "SELECT r.example_id, b.name, b.value, b.passed FROM evaluation_results r "
    "JOIN evaluation_scores b ON b.project = r.project AND b.run = {m} "
    "AND b.example_id = r.example_id WHERE r.project = {m} AND r.run = {m} AND r.status = 'error'"
)

CompareRow = tuple[str, str | None, Any, Any, Any, Any]


class ScoreChange(msgspec.Struct):
    """One score of one example in a comparison (a struct: 10,000 of them are made per call)."""

    run: Any
    baseline: Any
    change: Change


def _value(stored: Any) -> Any:
    """A score's value as the driver answers it: SQLite gives a number column's text back as
    the number (numeric affinity) and `true`/`false` as JSON text; psycopg decodes JSONB."""
    return msgspec.json.decode(stored) if isinstance(stored, str) else stored


def _compare_rows(
    connection: Connection, project: str, run_id: str, baseline_id: str
) -> list[CompareRow]:
    """(example, name, run value, run passed, baseline value, baseline passed) of every score
    to compare, by example and name; an example without any has one row of Nones."""
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    params = (baseline_id, project, run_id)
    # The driver's own cursor: plain tuples, without a result row object per row.
    rows: list[CompareRow] = list(
        connection.exec_driver_sql(_COMPARE.format(m=marker), params).cursor.fetchall()
    )
    lost = connection.exec_driver_sql(_LOST.format(m=marker), params).cursor.fetchall()
    if not lost:
        return rows
    have = {(row[0], row[1]) for row in rows}
    rows += [
        (example_id, name, None, None, value, passed)
        for example_id, name, value, passed in lost
        if (example_id, name) not in have
    ]
    rows.sort(key=lambda row: (row[0], row[1] or ""))
    return rows


def compare(connection: Connection, project: str, run: Any, baseline: Any) -> dict[str, Any]:
    """Every example of `run` with each score's value in the run and in `baseline` and its
    change; a summary per score, and the guardrails among the run's examples (examples that
    failed a score in a run of the dataset earlier than `run`).

    A score the baseline had counts against a row the run failed with an error; a row the run
    scored without it (another set of evaluators) is not compared on it."""
    items: list[dict[str, Any]] = []
    summary: dict[str, dict[str, int]] = {}
    current: dict[str, Any] = {}
    for example_id, name, value, passed, then, then_passed in _compare_rows(
        connection, project, run["id"], baseline["id"]
    ):
        if not items or items[-1]["example_id"] != example_id:
            current = {}
            items.append({"example_id": example_id, "scores": current})
        if name is None:
            continue
        verdict = None if value is None else bool(passed)
        change = _change(verdict, None if then is None else bool(then_passed))
        current[name] = ScoreChange(_value(value), _value(then), change)
        counted = summary.setdefault(name, {"improved": 0, "regressed": 0, "unchanged": 0})
        if change != "new":
            counted[change] += 1
    covered = {item["example_id"] for item in items}
    flagged = guardrails(connection, project, run["dataset"], before=run)
    return {
        "run": run["id"],
        "baseline": baseline["id"],
        "items": items,
        "summary": dict(sorted(summary.items())),
        "guardrails": {
            name: sorted(examples & covered) for name, examples in sorted(flagged.items())
        },
    }
