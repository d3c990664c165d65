"""Every answer equals a plain-Python evaluation of the same query over the same events.

Hypothesis makes the events (with revisions and deletes) and the queries; each example writes
to a project of its own in the module's database, on SQLite and on PostgreSQL.
"""

import math
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert

from plaudit.analytics.run import run_query
from plaudit.core.privacy import PiiMode
from plaudit.core.query.fields import parse_field
from plaudit.core.query.model import (
    Ago,
    Bucket,
    BucketUnit,
    Filter,
    Metric,
    MetricFn,
    Op,
    Per,
    Query,
)  # fmt: skip
from plaudit.core.query.text import parse_query, to_text
from plaudit.core.validation import validate_feedback
from plaudit.store.feedback import DeleteFeedback, StoreFeedback
from plaudit.store.schema import spans
from tests.analytics.oracle import EPOCH, Event, evaluate

REDACT = PiiMode.REDACT
NOW = datetime(2026, 3, 30, 12, tzinfo=UTC)
SPANS = [(f"{i:032x}", f"{i:016x}") for i in range(1, 6)]
STORED_SPANS = {SPANS[0][1]: {"model": "gpt-x", "tokens": 10}, SPANS[1][1]: {"model": "gpt-y"},
                SPANS[2][1]: {"tokens": 7.5}}  # fmt: skip
TEXTS = ["a", "b", "é", "Zed", "WRONG answer", "great"]

values_by_name = {
    "rq": st.sampled_from(["up", "down", 1, -1]),
    "stars": st.one_of(st.integers(1, 5), st.sampled_from([2.5, 0.25, -3.75])),
    "flag": st.booleans(),
    "cat": st.sampled_from(TEXTS[:4]),
    "copy": st.none(),
    "obj": st.fixed_dictionaries(
        {"step": st.fixed_dictionaries({"retry": st.booleans()}), "n": st.integers(0, 3)}
    ),
}
kinds = {
    "rq": "thumb",
    "stars": "number",
    "flag": "bool",
    "cat": "enum",
    "copy": "signal",
    "obj": "object",
}
json_number = st.one_of(st.integers(-5, 5), st.sampled_from([0.5, 1.25, -2.5]))


@st.composite
def raw_event(draw: Any, index: int) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(values_by_name)))
    trace_id, span_id = draw(st.sampled_from(SPANS))
    raw: dict[str, Any] = {
        "id": f"e{index}", "name": name, "kind": kinds[name], "trace_id": trace_id,
        "span_id": span_id,
        "timestamp": (NOW - timedelta(minutes=draw(st.integers(0, 60 * 24 * 20)),
                                      microseconds=draw(st.integers(0, 3)))).isoformat(),
        "user_id": draw(st.sampled_from([None, "u1", "u2", "u3"])),
        "capability": draw(st.sampled_from([None, "x", "y"])),
        "tags": draw(st.lists(st.sampled_from(["t1", "t2"]), unique=True, max_size=2)),
        "implicit": draw(st.booleans()),
        "comment": draw(st.sampled_from([None, *TEXTS])),
    }  # fmt: skip
    value = draw(values_by_name[name])
    if value is not None:
        raw["value"] = value
    if draw(st.booleans()):
        raw["metadata"] = {"plan": draw(st.sampled_from(TEXTS[:3])), "n": draw(json_number),
                           "flag": draw(st.booleans())}  # fmt: skip
    if draw(st.booleans()):
        raw["scores"] = {"s1": float(draw(json_number))}
    return raw


@st.composite
def histories(draw: Any) -> tuple[list[list[dict[str, Any]]], set[str]]:
    """Batches of raw events (later batches may revise earlier ids), and ids then deleted."""
    count = draw(st.integers(0, 14))
    first = [draw(raw_event(i)) for i in range(count)]
    revised = [
        draw(raw_event(i))
        for i in draw(st.lists(st.integers(0, max(count - 1, 0)), max_size=3))
        if count
    ]
    deleted = (
        set(draw(st.lists(st.sampled_from([f"e{i}" for i in range(count)]), max_size=2)))
        if count
        else set()
    )
    return [first, revised], deleted


FIELDS = ["capability", "name", "user_id", "link_status", "implicit", "value", "metadata.plan",
          "metadata.n", "metadata.flag", "scores.s1", "span.model", "span.tokens",
          "value.step.retry", "value.n", "comment", "tags"]  # fmt: skip
NUMERIC_TARGETS = [None, "value", "scores.s1", "metadata.n", "span.tokens", "value.n"]
LITERALS = st.one_of(st.sampled_from([*TEXTS, "up", "down", "t1", "gpt-x"]), json_number,
                     st.booleans(), st.none())  # fmt: skip


@st.composite
def metrics(draw: Any) -> Metric:
    fn = draw(st.sampled_from(list(MetricFn)))
    if fn is MetricFn.COUNT or fn in (MetricFn.UP, MetricFn.DOWN, MetricFn.SATISFACTION):
        return Metric(fn)
    if fn is MetricFn.COUNT_DISTINCT:
        return Metric(fn, parse_field(draw(st.sampled_from(["user_id", "trace_id", "name"]))))
    if fn is MetricFn.PCT_TRUE:
        target = draw(
            st.sampled_from([None, "value", "implicit", "metadata.flag", "value.step.retry"])
        )
    elif fn is MetricFn.DISTRIBUTION:
        target = draw(
            st.sampled_from([None, "capability", "metadata.plan", "metadata.n", "value.step.retry"])
        )
    else:
        target = draw(st.sampled_from(NUMERIC_TARGETS))
    return Metric(fn, parse_field(target) if target else None)


@st.composite
def filters(draw: Any) -> Filter:
    target = parse_field(draw(st.sampled_from(FIELDS)))
    op = draw(st.sampled_from(list(Op)))
    value: Any = draw(LITERALS)
    if op is Op.IN:
        value = tuple(draw(st.lists(LITERALS, min_size=1, max_size=3)))
    if op is Op.CONTAINS:
        value = draw(st.sampled_from(["a", "WRONG", "wrong", "é", "e"]))
    made = Filter(target, op, value)
    from plaudit.core.query.model import check_filter

    return made if check_filter(made) is None else Filter(parse_field("name"), Op.NE, "nothing")


@st.composite
def queries(draw: Any) -> Query:
    chosen = draw(st.lists(metrics(), min_size=1, max_size=4, unique_by=lambda m: m.label))
    group_names = [f for f in FIELDS if f not in ("comment", "tags")] + ["day", "week", "hour"]
    groups = draw(st.lists(st.sampled_from(group_names), max_size=2, unique=True))
    return Query(
        metrics=tuple(chosen),
        group_by=tuple(
            Bucket(BucketUnit(g)) if g in ("day", "week", "hour") else parse_field(g)
            for g in groups
        ),
        filters=tuple(draw(st.lists(filters(), max_size=2))),
        per=draw(st.sampled_from(list(Per))),
        since=draw(st.sampled_from([None, Ago(timedelta(days=10)), NOW - timedelta(days=3)])),
        until=draw(st.sampled_from([None, NOW - timedelta(days=1)])),
        tz=draw(st.sampled_from([None, "Europe/Paris", "Asia/Kolkata"])),
    )


def store_history(
    engine: Engine, project: str, batches: list[list[dict[str, Any]]], deleted: set[str]
) -> list[Event]:
    """Write the events through the store; answer what the oracle expects, from the raw input."""
    with engine.begin() as connection:
        connection.execute(insert(spans), [
            {"project": project, "trace_id": trace, "span_id": span, "name": "respond",
             "kind": "internal", "start_time_ns": 0, "end_time_ns": 1, "status_code": "unset",
             "status_message": "", "attributes": STORED_SPANS[span], "events": [], "links": [],
             "resource": {}, "scope": {}, "received_at": 0}
            for trace, span in SPANS if span in STORED_SPANS
        ])  # fmt: skip
    for batch in batches:
        events = [validate_feedback(raw, pointer="", now=NOW, configs={}) for raw in batch]
        assert all(not isinstance(e, list) for e in events), events
        with engine.begin() as connection:
            StoreFeedback(project, events, NOW, None, pii=REDACT).apply(connection)  # type: ignore[arg-type]
    with engine.begin() as connection:
        for event_id in sorted(deleted):
            DeleteFeedback(project, event_id, NOW, None).apply(connection)
    return expected_events(project, batches, deleted)


def expected_events(
    project: str, batches: list[list[dict[str, Any]]], deleted: set[str]
) -> list[Event]:
    """The events as the API promises to keep them: the last version of each id, unless
    deleted; a thumb word as ±1; linked when its span is stored, taking the span's attributes."""
    last = {raw["id"]: raw for batch in batches for raw in batch}
    return [
        oracle_event(project, raw)
        for event_id, raw in sorted(last.items())
        if event_id not in deleted
    ]


def implied_kind(value: Any) -> str:
    """The kind a value implies when none is named (the API's inference rules)."""
    if value is None:
        return "signal"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "thumb" if value in ("up", "down") else "text"
    return "object" if isinstance(value, dict) else "correction"


def oracle_event(project: str, raw: dict[str, Any]) -> Event:
    value = raw.get("value")
    kind = raw.get("kind") or implied_kind(value)
    if kind == "thumb":
        value = {"up": 1, "down": -1}.get(value, value)
    linked = raw.get("span_id") in STORED_SPANS
    kept = ("id", "name", "trace_id", "span_id", "conversation_id", "user_id", "capability",
            "step", "comment", "metadata", "scores")  # fmt: skip
    data = {
        **{key: raw.get(key) for key in kept},
        "project": project, "kind": kind, "value": value, "tags": sorted(set(raw.get("tags", []))),
        "implicit": raw.get("implicit", kind == "signal"), "source": raw.get("source", "end_user"),
        "signal_type": raw.get("signal_type", "default"),
        "link_status": "linked" if linked else "pending",
    }  # fmt: skip
    for filled in ("capability", "step"):
        if linked and not data[filled]:  # missing (or empty): taken from the span, which has none
            data[filled] = None
    micros = (datetime.fromisoformat(raw["timestamp"]) - EPOCH) // timedelta(microseconds=1)
    return Event(data, micros, STORED_SPANS[raw["span_id"]] if linked else None)


def close(left: Any, right: Any) -> bool:
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            a["value"] == b["value"] and close(a["count"], b["count"])
            for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, float) or isinstance(right, float):
        return (
            left is not None
            and right is not None
            and math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-9)
        )
    return bool(left == right) and type(left) is type(right)


def assert_same(query: Query, got: list[list[Any]], expected: list[list[Any]]) -> None:
    text = to_text(query)
    assert len(got) == len(expected), (text, got, expected)
    width = len(query.group_by)
    for row, want in zip(got, expected, strict=True):
        assert row[:width] == want[:width], (text, got, expected)
        assert all(close(a, b) for a, b in zip(row[width:], want[width:], strict=True)), (
            text,
            row,
            want,
        )


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=histories(), asked=st.lists(queries(), min_size=1, max_size=4))
def test_answers_equal_a_plain_python_evaluation(
    engine: Engine, history: tuple[list[list[dict[str, Any]]], set[str]], asked: list[Query]
) -> None:
    project = f"p{secrets.token_hex(5)}"
    events = store_history(engine, project, *history)
    for query in asked:
        assert parse_query(to_text(query)) == query
        with engine.connect() as connection:
            answer = run_query(connection, query, project, now=NOW)
        assert [c.name for c in answer.columns] == query.columns
        assert_same(query, answer.rows, evaluate(query, events, NOW))
