"""Typed contexts of the investigation pages: the traces list, a conversation, a user."""

from dataclasses import dataclass, field
from typing import Any

from plaudit.console.pages import SpanFeedback


@dataclass(frozen=True, slots=True)
class FeedbackSummary:
    """A trace's feedback in brief: how much, thumbs either way, and its first few badges."""

    count: int
    good: int
    bad: int
    badges: list[SpanFeedback]

    @property
    def text(self) -> str:
        """For screen readers and the table: "3 feedback: 2 good, 1 bad"."""
        if not self.count:
            return "no feedback"
        parts = [f"{self.good} good" if self.good else "", f"{self.bad} bad" if self.bad else ""]
        said = ", ".join(p for p in parts if p)
        return f"{self.count} feedback" + (f": {said}" if said else "")


@dataclass(frozen=True, slots=True)
class TraceLine:
    """One trace in a list."""

    trace_id: str
    time: str
    name: str
    capability: str
    duration_ms: float
    status: str  # "ok" or "error"
    spans: int
    feedback: FeedbackSummary
    user_id: str
    conversation_id: str
    service: str

    @property
    def spans_text(self) -> str:
        """ "1 span", "2 spans"."""
        return f"{self.spans} span" if self.spans == 1 else f"{self.spans:,} spans"


@dataclass(frozen=True, slots=True)
class SortChoice:
    """One order the list can take, as a link."""

    key: str
    label: str
    href: str
    current: bool


@dataclass(frozen=True, slots=True)
class TracesPage:
    """`/traces`: the search, the range, the order, a page of traces and the way on."""

    q: str
    sort: str
    sorts: list[SortChoice]
    rows: list[TraceLine]
    next_url: str | None
    previous_url: str | None
    picker: Any  # time_range.RangePicker
    examples: tuple[str, ...]
    error: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class ConversationTrace:
    """A trace of a conversation with every piece of feedback on it."""

    line: TraceLine
    feedback: list[SpanFeedback]


@dataclass(frozen=True, slots=True)
class ConversationPage:
    """`/conversations/{id}`: its traces in order, the feedback on each, who took part."""

    conversation_id: str
    traces: list[ConversationTrace]
    unlinked: list[SpanFeedback]
    users: list[str]
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class UserConversation:
    """One of a user's conversations."""

    conversation_id: str
    events: int
    last: str


@dataclass(frozen=True, slots=True)
class UserEvent:
    """One of a user's feedback events."""

    time: str
    badge: SpanFeedback
    capability: str
    trace_id: str
    open_url: str


@dataclass(frozen=True, slots=True)
class UserPage:
    """`/users/{id}`: the user's conversations and newest feedback."""

    user_id: str
    conversations: list[UserConversation]
    events: list[UserEvent]
    picker: Any  # time_range.RangePicker
    explorer_url: str
    good: int = 0
    bad: int = 0
    notes: list[str] = field(default_factory=list)
