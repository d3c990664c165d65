"""Typed contexts of the improvement loop's console pages: datasets, one dataset, queues, and
the review page (see pages.py for the contract these follow)."""

from dataclasses import dataclass, field

from plaudit.console.pages import Message


@dataclass(frozen=True, slots=True)
class DatasetRow:
    """One dataset in the list."""

    name: str
    description: str
    version: int
    count: int
    created_at: str


@dataclass(frozen=True, slots=True)
class DatasetsPage:
    """Every dataset of the project."""

    datasets: list[DatasetRow]
    message: str = ""


@dataclass(frozen=True, slots=True)
class ExampleRow:
    """One example of the version shown; JSON columns as text."""

    id: str
    input: str
    output: str
    expected: str
    metadata: str
    annotation_status: str
    trace_id: str | None


@dataclass(frozen=True, slots=True)
class VersionRow:
    """One version and what it changed."""

    version: int
    created_at: str
    added: int
    revised: int
    removed: int


@dataclass(frozen=True, slots=True)
class DiffRow:
    """One example that differs between two versions."""

    id: str
    change: str  # added, removed or changed
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class DatasetPage:
    """One dataset: its versions, the examples of one version, maybe a diff of two."""

    name: str
    description: str
    newest: int
    version: int
    versions: list[VersionRow]
    examples: list[ExampleRow]
    next_url: str | None
    diff_from: int | None = None
    diff_to: int | None = None
    diff: list[DiffRow] | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One queue with its progress."""

    name: str
    instructions: str
    fill: str
    pending: int
    done: int


@dataclass(frozen=True, slots=True)
class QueuesPage:
    """Every queue of the project."""

    queues: list[QueueRow]


@dataclass(frozen=True, slots=True)
class Choice:
    """A value a reviewer can pick; `key` is its digit (1–9), when it has one."""

    key: str
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class Question:
    """One feedback name the queue asks for, with its choices or a free-text field."""

    name: str
    kind: str
    description: str
    choices: list[Choice] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class GivenFeedback:
    """Feedback the item's span already has."""

    name: str
    value: str
    user_id: str
    source: str
    comment: str


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """The item under review: what was asked, what was answered, what people said."""

    id: str
    trace_id: str | None
    span_id: str | None
    dataset: str | None
    example_id: str | None
    inputs: list[Message]
    outputs: list[Message]
    feedback: list[GivenFeedback]


@dataclass(frozen=True, slots=True)
class DoneRow:
    """A finished item: who did it and when."""

    id: str
    done_by: str
    done_at: str


@dataclass(frozen=True, slots=True)
class ReviewPage:
    """The review page: one held item at a time, the questions, progress and who did what."""

    queue: str
    instructions: str
    done: int
    total: int
    item: ReviewItem | None
    questions: list[Question]
    skip: str
    recent: list[DoneRow]
    error: str = ""
