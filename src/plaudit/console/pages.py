"""One typed context per console page: what its template may use, and nothing else.

Templates receive `page` (one of these) and `chrome` (the frame every page shares). Views build
them from store and analytics reads; templates only lay them out. tests/console/test_pages.py
renders every template from a context built here, so a renamed field fails a test, not a page.
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Chrome:
    """The frame: title, navigation, the session's CSRF token and the project."""

    title: str
    nav: str
    csrf: str = ""
    project: str = ""
    signed_in: bool = True


@dataclass(frozen=True, slots=True)
class LoginPage:
    """The sign-in form."""

    next: str
    csrf: str
    error: str = ""
    password_enabled: bool = False


@dataclass(frozen=True, slots=True)
class CapabilityRow:
    """One capability on the overview: this period, and the change from the previous one."""

    capability: str
    count: int
    up: int
    down: int
    satisfaction: float | None
    previous: float | None

    @property
    def change(self) -> float | None:
        """Satisfaction now minus before, in fractions; None without both."""
        if self.satisfaction is None or self.previous is None:
            return None
        return self.satisfaction - self.previous


@dataclass(frozen=True, slots=True)
class Chart:
    """Data for a uPlot chart: x values, named series, and how to draw them."""

    id: str
    label: str
    kind: str  # "line" (time on x) or "bars" (categories on x)
    x: list[Any]
    series: list[tuple[str, list[float | None]]]
    percent: bool = False
    categories: list[str] = field(default_factory=list)
    # Where a click on a point goes: {"href", "param", "step"} (a series is a value of `param`,
    # a point the bucket of `step` seconds from its x); None when points open nothing.
    drill: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class OverviewPage:
    """Volume and satisfaction per capability, their trends, and the biggest movers."""

    range: str
    ranges: tuple[str, ...]
    rows: list[CapabilityRow]
    movers: list[CapabilityRow]
    satisfaction_chart: Chart
    volume_chart: Chart
    total: int
    picker: Any = None  # time_range.RangePicker
    since: str = ""  # this period's first bucket, for links to the explorer
    until: str = ""
    bucket: str = "day"
    error: str = ""


@dataclass(frozen=True, slots=True)
class EventRow:
    """One feedback event in the explorer's table."""

    id: str
    time: str
    capability: str
    name: str
    kind: str
    value: str
    value_label: str
    user_id: str
    source: str
    comment: str
    trace_id: str | None
    span_id: str | None
    open_url: str = ""  # the explorer as it is, with this event opened
    conversation_id: str | None = None


@dataclass(frozen=True, slots=True)
class EventDetail:
    """The explorer's detail panel: one event in full, with its history."""

    id: str
    fields: list[tuple[str, str]]
    comment: str | None
    correction: str | None
    expected: str | None
    value: str | None
    metadata: str | None
    scores: str | None
    tags: list[str]
    history: list[tuple[str, str, str]]  # (recorded_at, operation, content as JSON)
    trace_id: str | None
    span_id: str | None


@dataclass(frozen=True, slots=True)
class ExplorerPage:
    """The feedback explorer: filters (as in the URL), a page of events, maybe one opened."""

    filters: dict[str, str]
    capabilities: list[str]
    kinds: tuple[str, ...]
    sources: tuple[str, ...]
    rows: list[EventRow]
    next_url: str | None
    detail: EventDetail | None
    error: str = ""
    picker: Any = None  # time_range.RangePicker
    export_query: str = ""  # the filters as a query string, for the export links


@dataclass(frozen=True, slots=True)
class Message:
    """One GenAI input or output message."""

    role: str
    text: str


@dataclass(frozen=True, slots=True)
class SpanFeedback:
    """A feedback event shown on its span."""

    id: str
    name: str
    value: str
    comment: str
    user_id: str
    label: str = ""  # the value in words, for screen readers ("thumbs up", "4 of 5")
    tone: str = "neutral"  # good, bad or neutral: the badge's colour (core.tone)


@dataclass(frozen=True, slots=True)
class SpanRow:
    """One span of the waterfall, with its offset and width as percents of the trace."""

    span_id: str
    name: str
    depth: int
    offset: float
    width: float
    duration_ms: float
    status: str
    capability: str
    step: str
    attributes: list[tuple[str, str]]
    inputs: list[Message]
    outputs: list[Message]
    feedback: list[SpanFeedback]
    selected: bool


@dataclass(frozen=True, slots=True)
class TracePage:
    """The trace view: waterfall, feedback on its spans, and the conversation's other traces."""

    trace_id: str
    duration_ms: float
    spans: list[SpanRow]
    trace_feedback: list[SpanFeedback]
    conversation_id: str | None
    conversation: list[str]
    selected_span: str | None
    resource: list[tuple[str, str]] = field(default_factory=list)  # the root span's resource
    users: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class QueryError:
    """A query the parser refused, split at the position it stopped."""

    message: str
    before: str
    after: str

    @property
    def position(self) -> int:
        """The character offset where reading stopped."""
        return len(self.before)


@dataclass(frozen=True, slots=True)
class QueryPage:
    """The query bar, its result as a table and a chart, or where it went wrong."""

    q: str
    examples: tuple[str, ...]
    columns: list[tuple[str, str]]
    rows: list[list[str]]
    chart: Chart | None
    error: QueryError | None
    elapsed_ms: float | None


@dataclass(frozen=True, slots=True)
class TokenRow:
    """A token as listed (never its secret)."""

    id: str
    name: str
    scopes: str
    origins: str
    created_at: str
    revoked: bool


@dataclass(frozen=True, slots=True)
class ConfigRow:
    """A declared feedback name."""

    name: str
    kind: str
    values: str
    range: str
    description: str


@dataclass(frozen=True, slots=True)
class SettingsPage:
    """Tokens, feedback configs, PII mode and allowed origins of the project."""

    tokens: list[TokenRow]
    configs: list[ConfigRow]
    server_origins: list[str]
    scopes: tuple[str, ...]
    kinds: tuple[str, ...]
    pii_mode: str = "redact"
    pii_modes: tuple[str, ...] = ("redact", "flag", "off")
    created_secret: str | None = None
    message: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class ErrorPage:
    """A console error (not found, refused)."""

    status: int
    message: str


@dataclass(frozen=True, slots=True)
class ApiParameter:
    """One parameter of an API operation."""

    name: str
    where: str
    required: bool
    description: str


@dataclass(frozen=True, slots=True)
class ApiOperation:
    """One method on one path, as the OpenAPI document describes it."""

    method: str
    path: str
    summary: str
    description: str
    parameters: list[ApiParameter]
    body: str
    responses: list[tuple[str, str]]

    @property
    def anchor(self) -> str:
        """A fragment id for links to this operation."""
        return f"{self.method}-{self.path}".replace("/", "-").replace("{", "").replace("}", "")


@dataclass(frozen=True, slots=True)
class ApiDocsPage:
    """`/docs`: the API reference, rendered here from the OpenAPI document, grouped by tag."""

    title: str
    version: str
    description: str
    groups: list[tuple[str, list[ApiOperation]]]
