"""Trace search pages: every matching trace once, newest match first, equal to a Python oracle.

`search_traces` scans matching events newest first and stops early; these tests page through all
of its answer, following `after`, and compare with a plain-Python evaluation of the events sent.
"""

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, insert, select

from plaudit.core.privacy import PiiMode
from plaudit.core.query.fields import TRACE_ROOTS, VALUE
from plaudit.core.query.model import Filter
from plaudit.core.query.text import parse_filters
from plaudit.core.validation import validate_feedback
from plaudit.store.event_search import TraceHit, search_traces
from plaudit.store.feedback import DeleteFeedback, StoreFeedback
from plaudit.store.schema import feedback, spans
from tests.analytics.oracle import EPOCH, Event, matches

REDACT = PiiMode.REDACT
NOW = datetime(2026, 3, 30, 12, tzinfo=UTC)
TRACES = [f"{i:032x}" for i in range(1, 13)]
CATEGORIES = ["x", "y", "z"]
SEARCHES = [
    "feedback.rq = -1",
    'feedback.rq = -1 and capability = "a"',
    'feedback.category = "x" and feedback.rq = 1',
    'capability = "b"',
    'feedback.rq = 1 and feedback.category in ("y", "z")',
    "",  # every event with a trace: more matches than one scan chunk
]


def moment(draw: Any) -> str:
    """One of a few instants, so that many events share the exact same timestamp."""
    minutes = draw(st.integers(0, 6))
    micros = draw(st.sampled_from([0, 0, 0, 1]))
    return (NOW - timedelta(minutes=minutes, microseconds=micros)).isoformat()


@st.composite
def raw_event(draw: Any, index: int) -> dict[str, Any]:
    name = draw(st.sampled_from(["rq", "category"]))
    trace_id = draw(st.sampled_from([*TRACES, None, None]))
    raw: dict[str, Any] = {
        "id": f"e{index}",
        "name": name,
        "kind": "thumb" if name == "rq" else "enum",
        "value": draw(st.sampled_from([1, -1] if name == "rq" else CATEGORIES)),
        "timestamp": moment(draw),
    }
    if trace_id is not None:
        raw["trace_id"] = trace_id
        raw["span_id"] = trace_id[-16:]
    else:  # feedback needs a target; this one has no trace
        raw["conversation_id"] = "c1"
    capability = draw(st.sampled_from([None, "a", "b"]))
    if capability is not None:
        raw["capability"] = capability
    return raw


@st.composite
def histories(draw: Any) -> tuple[list[list[dict[str, Any]]], list[str]]:
    """A first batch, a batch of revisions (same id, new value and time), and ids then deleted."""
    count = draw(st.one_of(st.integers(0, 40), st.integers(72, 110)))  # some over a scan chunk
    first = [draw(raw_event(i)) for i in range(count)]
    revised = []
    for index in sorted(set(draw(st.lists(st.integers(0, max(count - 1, 0)), max_size=8)))):
        if count:
            again = dict(first[index])
            again["value"] = draw(st.sampled_from([1, -1] if again["name"] == "rq" else CATEGORIES))
            again["timestamp"] = moment(draw)
            revised.append(again)
    if not count:
        return [first, revised], []
    deleted = draw(st.lists(st.sampled_from([f"e{i}" for i in range(count)]), max_size=6))
    return [first, revised], sorted(set(deleted))


def store(
    engine: Engine, project: str, batches: list[list[dict[str, Any]]], deleted: list[str]
) -> list[Event]:
    """Write the events; answer the oracle's events, made from what was sent (the last version
    of each id, unless deleted), never read back through the store."""
    for batch in batches:
        events = [validate_feedback(raw, pointer="", now=NOW, configs={}) for raw in batch]
        assert all(not isinstance(e, list) for e in events), events
        with engine.begin() as connection:
            StoreFeedback(project, events, NOW, None, pii=REDACT).apply(connection)  # type: ignore[arg-type]
    with engine.begin() as connection:
        for event_id in deleted:
            assert DeleteFeedback(project, event_id, NOW, None).apply(connection)
        rows = connection.execute(
            select(feedback.c.id, feedback.c.trace_id, feedback.c.name, feedback.c.kind,
                   feedback.c.value, feedback.c.capability, feedback.c.timestamp)
            .where(feedback.c.project == project)
        ).mappings().all()  # fmt: skip
    last = {raw["id"]: raw for batch in batches for raw in batch}  # revisions replace
    assert {row["id"] for row in rows} == set(last) - set(deleted)
    for row in rows:
        raw = last[row["id"]]
        assert row["value"] == raw["value"]
        assert row["timestamp"] == datetime.fromisoformat(raw["timestamp"])
    kept = ("id", "trace_id", "name", "kind", "value", "capability")
    return [
        Event(
            {key: raw.get(key) for key in kept},
            micros_of(datetime.fromisoformat(raw["timestamp"])),
            None,
        )
        for event_id, raw in sorted(last.items())
        if event_id not in deleted
    ]


def micros_of(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def expected(
    events: Sequence[Event], span_attributes: dict[str, list[dict[str, Any]]], text: str
) -> list[TraceHit]:
    """The contract, naively: traces whose events satisfy the filters, newest match first."""
    filters = parse_filters(text, TRACE_ROOTS)
    on_event = [f for f in filters if f.field.root not in ("feedback", "span")]
    named = [f for f in filters if f.field.root == "feedback"]
    on_span = [f for f in filters if f.field.root == "span"]

    def has_feedback(one: Event, item: Filter) -> bool:
        return one.data["name"] == item.field.path[0] and matches(
            one, Filter(VALUE, item.op, item.value)
        )

    newest: dict[str, int] = {}
    for candidate in events:
        trace = candidate.data["trace_id"]
        if trace is None or not all(matches(candidate, f) for f in on_event):
            continue
        if named and not has_feedback(candidate, named[0]):
            continue
        mates = [e for e in events if e.data["trace_id"] == trace]
        if not all(any(has_feedback(e, f) for e in mates) for f in named[1:]):
            continue
        attributes = span_attributes.get(trace, [])
        if not all(any(matches(Event({}, 0, a), f) for a in attributes) for f in on_span):
            continue
        newest[trace] = max(newest.get(trace, candidate.micros), candidate.micros)
    ordered = sorted(newest.items(), key=lambda hit: (hit[1], hit[0]), reverse=True)
    return [TraceHit(trace, at) for trace, at in ordered]


def every_page(connection: Connection, project: str, text: str, limit: int) -> list[TraceHit]:
    """All hits, a page of `limit` at a time, each page after the last hit of the one before."""
    filters = parse_filters(text, TRACE_ROOTS)
    hits: list[TraceHit] = []
    after: tuple[int, str] | None = None
    for _ in range(len(TRACES) + 2):
        page = search_traces(connection, project, filters, after, limit)
        assert len(page) <= limit, (text, limit, page)
        hits += page
        if len(page) < limit:
            return hits
        after = (page[-1].matched_at, page[-1].trace_id)
    raise AssertionError(f"paging did not end: {text!r}, limit {limit}, {hits}")


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=histories(), limits=st.lists(st.integers(1, 5), min_size=6, max_size=6))
def test_pages_equal_a_plain_python_search(
    engine: Engine, history: tuple[list[list[dict[str, Any]]], list[str]], limits: list[int]
) -> None:
    project = f"p{secrets.token_hex(5)}"
    events = store(engine, project, *history)
    traced = sum(e.data["trace_id"] is not None for e in events)
    event("more traced events than one scan chunk" if traced > 64 else "one scan chunk")
    with engine.connect() as connection:
        for text, limit in zip(SEARCHES, limits, strict=True):
            want = expected(events, {}, text)
            got = every_page(connection, project, text, limit)
            assert got == want, (text, limit)


def test_span_attributes_narrow_the_traces(engine: Engine) -> None:
    project = f"p{secrets.token_hex(5)}"
    models = {TRACES[0]: "gpt-x", TRACES[1]: "gpt-y", TRACES[2]: "gpt-x", TRACES[3]: "gpt-x"}
    with engine.begin() as connection:
        connection.execute(insert(spans), [
            {"project": project, "trace_id": trace, "span_id": trace[-16:], "name": "respond",
             "kind": "internal", "start_time_ns": (i + 1) * 1000, "end_time_ns": (i + 2) * 1000,
             "status_code": "unset", "status_message": "", "attributes": {"model": model},
             "events": [], "links": [], "resource": {}, "scope": {}, "received_at": 0}
            for i, (trace, model) in enumerate(models.items())
        ])  # fmt: skip
    at = [NOW - timedelta(minutes=m) for m in range(4)]
    raws = [  # (trace, thumb, capability, time); traces 0, 2 and 3 tie at at[1]
        (TRACES[0], -1, "a", at[1]), (TRACES[0], -1, None, at[3]),
        (TRACES[1], -1, "a", at[0]),  # gpt-y: never a hit
        (TRACES[2], -1, "b", at[1]), (TRACES[2], 1, "a", at[0]),
        (TRACES[3], -1, "a", at[1]), (TRACES[3], -1, "a", at[2]),
        (TRACES[4], -1, "a", at[0]),  # no span stored: never a hit
    ]  # fmt: skip
    batch = [
        {"id": f"e{i}", "name": "rq", "kind": "thumb", "value": value, "trace_id": trace,
         "span_id": trace[-16:], "timestamp": when.isoformat(),
         **({"capability": capability} if capability else {})}
        for i, (trace, value, capability, when) in enumerate(raws)
    ]  # fmt: skip
    events = store(engine, project, [batch], [])
    attributes = {trace: [{"model": model}] for trace, model in models.items()}
    tie, oldest = micros_of(at[1]), micros_of(at[3])
    cases = {
        'feedback.rq = -1 and span.model = "gpt-x"': [
            TraceHit(TRACES[3], tie),
            TraceHit(TRACES[2], tie),
            TraceHit(TRACES[0], tie),
        ],
        'span.model = "gpt-x" and feedback.rq = -1 and capability = "a"': [
            TraceHit(TRACES[3], tie),
            TraceHit(TRACES[0], tie),
        ],
        'capability = "a" and span.model = "gpt-y"': [TraceHit(TRACES[1], micros_of(at[0]))],
        'span.model = "gpt-x" and feedback.rq = -1 and capability = null': [
            TraceHit(TRACES[0], oldest)
        ],
        # only span attributes: a trace's time is its newest matching span's start
        'span.model = "gpt-x"': [
            TraceHit(TRACES[3], 4),
            TraceHit(TRACES[2], 3),
            TraceHit(TRACES[0], 1),
        ],
    }
    with engine.connect() as connection:
        for text, want in cases.items():
            if "feedback" in text or "capability" in text:
                assert expected(events, attributes, text) == want, text
            for limit in (1, 2, 3, 50):
                assert every_page(connection, project, text, limit) == want, (text, limit)
