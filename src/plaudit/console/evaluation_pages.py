"""Typed contexts of the console's evaluation pages: agreement between end users and an
evaluator (see pages.py for the contract these follow)."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AgreementRow:
    """The figures of one capability (or of every span, `capability` empty)."""

    capability: str
    n: int
    agreement: float | None
    kappa: float | None
    pearson: float | None
    tp: int
    fp: int
    fn: int
    tn: int


@dataclass(frozen=True, slots=True)
class AgreementPage:
    """The chosen names and range, the names to choose among, and the figures."""

    user: str
    evaluator: str
    since: str
    user_names: list[str]
    evaluator_names: list[str]
    ranges: tuple[tuple[str, str], ...]
    overall: AgreementRow | None
    rows: list[AgreementRow]
    error: str = ""


@dataclass(frozen=True, slots=True)
class ScoreSummary:
    """One score of a run: its mean and the share of examples that passed it."""

    name: str
    mean: float
    pass_rate: float


@dataclass(frozen=True, slots=True)
class RunRow:
    """One evaluation run with its counts and scores; `previous` is the run of the same
    dataset before it, when known, to compare with."""

    id: str
    name: str
    dataset: str
    dataset_version: int
    only: str
    status: str
    created_at: str
    finished_at: str
    examples: int
    done: int
    errors: int
    scores: list[ScoreSummary]
    previous: str | None = None


@dataclass(frozen=True, slots=True)
class EvaluationsPage:
    """Runs, newest first, of one dataset or of all; the datasets to choose among."""

    datasets: list[str]
    dataset: str
    runs: list[RunRow]
    next_url: str = ""


@dataclass(frozen=True, slots=True)
class ScoreCell:
    """One score of one example: its value as text and its verdict."""

    name: str
    value: str
    passed: bool | None
    comment: str = ""


@dataclass(frozen=True, slots=True)
class ResultLine:
    """One example of a run: its status, output or error, and scores."""

    example_id: str
    status: str
    output: str
    error: str
    trace_id: str | None
    span_id: str | None
    scores: list[ScoreCell]


@dataclass(frozen=True, slots=True)
class RunPage:
    """One run: its figures, a page of its rows, and the runs it may be compared with."""

    run: RunRow
    score_names: list[str]
    rows: list[ResultLine]
    status: str
    statuses: tuple[str, ...]
    baselines: list[tuple[str, str]]
    baseline: str
    next_url: str = ""


@dataclass(frozen=True, slots=True)
class ChangeCell:
    """One score of one example in two runs: the baseline's value, the run's, the change."""

    name: str
    baseline: str
    run: str
    change: str  # improved, regressed, unchanged, new, or "" when neither run has the score
    guardrail: bool


@dataclass(frozen=True, slots=True)
class CompareLine:
    """One example of the run beside the baseline."""

    example_id: str
    cells: list[ChangeCell]
    guardrail: bool
    regressed: bool
    improved: bool
    after: str  # the example before it in the run: its page lists rows after that one


@dataclass(frozen=True, slots=True)
class ChangeSummary:
    """How many examples a score improved, regressed or left unchanged on, and its
    guardrails among the run's examples."""

    name: str
    improved: int
    regressed: int
    unchanged: int
    guardrails: int


@dataclass(frozen=True, slots=True)
class ComparePage:
    """Two runs side by side, row by row, filtered by `show`."""

    run: RunRow
    baseline: RunRow
    summary: list[ChangeSummary]
    score_names: list[str]
    rows: list[CompareLine]
    show: str
    shows: tuple[tuple[str, str, int], ...]  # (value, label, how many rows it shows)
    matching: int  # rows the filter matches; at most `limit` are listed
    limit: int
