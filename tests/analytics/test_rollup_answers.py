"""Queries answered from the per-day rollups equal the same queries answered from the events.

Hypothesis makes histories (with revisions and deletes) and queries the rollups can serve: their
whole UTC days are read from `feedback_rollup` (or `feedback_metadata_rollup` for one metadata
key), the partial days at either end from the events. Each answer must equal the events-only
answer and the plain-Python oracle, and the rollup must really be read whenever the window holds
a whole day (sums and averages over fractional values may then fall back to the events). Queries
it cannot serve (local days in a zone off UTC, `per span`, percentiles, windows shorter than a
day) must read the events.
"""

import math
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, Table

from plaudit.analytics.run import Answer, run_query, zone_offsets
from plaudit.core.feedback import SignalType, Source
from plaudit.core.query.fields import VALUE, Field, parse_field
from plaudit.core.query.model import (
    Ago,
    Bucket,
    BucketUnit,
    Filter,
    Metric,
    MetricFn,
    Moment,
    Op,
    Per,
    Query,
    check_filter,
)  # fmt: skip
from plaudit.core.query.text import parse_query, to_text
from plaudit.store.rollup import RollupPlan, source_for
from plaudit.store.schema import feedback_metadata_rollup, feedback_rollup, to_micros
from plaudit.store.sql_aggregate import Window
from plaudit.store.sql_query import Offsets
from tests.analytics.oracle import Event, evaluate
from tests.analytics.test_properties import NOW, raw_event, store_history

DAY = 86_400_000_000
MIDNIGHT = NOW.replace(hour=0)  # 2026-03-30T00:00Z; the histories span the 20 days before NOW


@st.composite
def rich_event(draw: Any, index: int) -> dict[str, Any]:
    """`raw_event` with every rollup dimension varied, some times on or next to a midnight."""
    raw: dict[str, Any] = draw(raw_event(index))
    for field, values in {
        "capability": [None, "", "x", "y"],
        "step": [None, "s"],
        "source": [None, *(s.value for s in Source)],
        "signal_type": [None, *(s.value for s in SignalType)],
    }.items():
        raw.pop(field, None)
        if (chosen := draw(st.sampled_from(values))) is not None:
            raw[field] = chosen
    if "metadata" in raw and draw(st.booleans()):  # `plan` of other types, or null
        # Not objects or arrays: see test_objects_in_a_grouped_path_are_the_null_group.
        raw["metadata"]["plan"] = draw(st.sampled_from([None, 2, 2.0, True, "Zed"]))
    if draw(st.booleans()):
        days, micros = draw(st.integers(0, 20)), draw(st.sampled_from([0, 1, -1]))
        raw["timestamp"] = (MIDNIGHT - timedelta(days=days, microseconds=-micros)).isoformat()
    return raw


@st.composite
def rich_histories(draw: Any) -> tuple[list[list[dict[str, Any]]], set[str]]:
    """Like `histories`: batches (the second revises ids of the first), then deleted ids."""
    count = draw(st.integers(0, 16))
    first = [draw(rich_event(i)) for i in range(count)]
    revised = (
        [draw(rich_event(i)) for i in draw(st.lists(st.integers(0, count - 1), max_size=4))]
        if count
        else []
    )
    deleted = (
        set(draw(st.lists(st.sampled_from([f"e{i}" for i in range(count)]), max_size=3)))
        if count
        else set()
    )
    return [first, revised], deleted


METRICS = [Metric(MetricFn.COUNT), Metric(MetricFn.UP), Metric(MetricFn.DOWN),
           Metric(MetricFn.SATISFACTION), Metric(MetricFn.SUM), Metric(MetricFn.AVG),
           Metric(MetricFn.PCT_TRUE), Metric(MetricFn.SUM, VALUE), Metric(MetricFn.AVG, VALUE),
           Metric(MetricFn.PCT_TRUE, VALUE)]  # fmt: skip
DIMENSIONS = ["capability", "step", "name", "kind", "source", "signal_type", "implicit",
              "link_status"]  # fmt: skip
WORDS: dict[str, list[Any]] = {  # per field: values the events hold, and a few they do not
    "capability": [None, "", "x", "y", "z"],
    "step": [None, "s", "t"],
    "name": ["rq", "stars", "flag", "cat", "copy", "obj", "m"],
    "kind": ["thumb", "number", "bool", "enum", "signal", "object", "text"],
    "source": [s.value for s in Source],
    "signal_type": [s.value for s in SignalType],
    "link_status": ["pending", "linked"],
    "project": [None, "p", "zz"],
    "implicit": [True, False],
}


@st.composite
def filters(draw: Any, fields: tuple[str, ...] = (*DIMENSIONS, "project")) -> Filter:
    name = draw(st.sampled_from(fields))
    words = st.sampled_from(WORDS[name])
    # implicit is true or false, compared with =, != or in
    op = draw(st.sampled_from([Op.EQ, Op.NE, Op.IN] if name == "implicit" else list(Op)))
    value: Any
    if op is Op.IN:
        value = tuple(draw(st.lists(words, min_size=1, max_size=3)))
    elif op is Op.CONTAINS:
        value = draw(st.sampled_from(["a", "R", "e", "x", "ST", ""]))
    else:
        value = draw(words)
    made = Filter(parse_field(name), op, value)
    return made if check_filter(made) is None else Filter(parse_field(name), Op.NE, None)


def moments(until: bool) -> st.SearchStrategy[Moment | None]:
    """Window ends: none, relative, or absolute on, next to and between midnights."""
    days = st.integers(0, 3) if until else st.integers(1, 21)
    absolute = st.builds(
        lambda d, m: MIDNIGHT - timedelta(days=d) + timedelta(microseconds=m),
        days,
        st.sampled_from([0, 1, -1, DAY // 4, DAY // 2, DAY - 1]),
    )
    ago = st.builds(lambda h: Ago(timedelta(hours=h)), st.integers(0, 24 * 21))
    return st.one_of(st.none(), absolute, ago)


@st.composite
def queries(draw: Any) -> Query:
    """Queries made only of what the rollup holds."""
    groups = draw(st.lists(st.sampled_from([*DIMENSIONS, "day", "week"]), max_size=3, unique=True))
    return Query(
        metrics=tuple(draw(st.lists(st.sampled_from(METRICS), min_size=1, max_size=4,
                                    unique_by=lambda m: m.label))),
        group_by=tuple(Bucket(BucketUnit(g)) if g in ("day", "week") else parse_field(g)
                       for g in groups),
        filters=tuple(draw(st.lists(filters(), max_size=2))),
        since=draw(moments(until=False)),
        until=draw(moments(until=True)),
        tz=draw(st.sampled_from([None, None, "UTC", "Europe/London"])),
    )  # fmt: skip


def window_of(query: Query) -> Window:
    """The query's window in micros, as `run_query` takes it."""

    def micros(moment: Moment | None) -> int | None:
        if moment is None:
            return None
        return to_micros(moment.at(NOW) if isinstance(moment, Ago) else moment)

    return Window(micros(query.since), micros(query.until))


def holds_a_whole_day(window: Window) -> bool:
    if window.since is None or window.until is None:
        return True
    first_midnight = -(-window.since // DAY) * DAY
    return first_midnight + DAY <= window.until


def offsets_of(query: Query, events: list[Event], window: Window) -> Offsets | None:
    """The zone's offsets over the events in the window, as `run_query` works them out."""
    if query.tz is None or not any(isinstance(g, Bucket) for g in query.group_by):
        return None
    inside = [
        e.micros for e in events
        if (window.since is None or e.micros >= window.since)
        and (window.until is None or e.micros < window.until)
    ]  # fmt: skip
    return zone_offsets(ZoneInfo(query.tz), min(inside, default=0), max(inside, default=0))


def close(left: Any, right: Any) -> bool:
    """Equal, of the same type; floats within 1e-9."""
    if isinstance(left, float) or isinstance(right, float):
        return (
            isinstance(left, float)
            and isinstance(right, float)
            and math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-9)
        )
    return bool(left == right) and type(left) is type(right)


def assert_rows_equal(query: Query, got: list[list[Any]], want: list[list[Any]]) -> None:
    text = to_text(query)
    assert len(got) == len(want), (text, got, want)
    for row, expected in zip(got, want, strict=True):
        assert len(row) == len(expected), (text, row, expected)
        assert all(close(a, b) for a, b in zip(row, expected, strict=True)), (text, row, expected)


Reads = list[dict[tuple[Any, ...], dict[str, Any]] | None]


@contextmanager
def reading_rollups() -> Iterator[Reads]:
    """What each `RollupPlan.answer` returned meanwhile (None: it left the query to the events)."""
    reads: Reads = []
    original = RollupPlan.answer

    def answer(self: RollupPlan, connection: Any) -> Any:
        reads.append(original(self, connection))
        return reads[-1]

    with patch.object(RollupPlan, "answer", answer):
        yield reads


@pytest.fixture
def rollup_reads() -> Iterator[Reads]:
    with reading_rollups() as reads:
        yield reads


def answers(engine: Engine, query: Query, project: str) -> tuple[Answer, Answer]:
    with engine.connect() as connection:
        rollup = run_query(connection, query, project, now=NOW, use_rollup=True)
        events = run_query(connection, query, project, now=NOW, use_rollup=False)
    return rollup, events


def check(engine: Engine, query: Query, project: str, events: list[Event]) -> Answer:
    """Both paths give the oracle's answer; returns the rollup path's."""
    rollup, raw = answers(engine, query, project)
    assert [c.name for c in rollup.columns] == query.columns
    assert rollup.columns == raw.columns
    assert_rows_equal(query, rollup.rows, raw.rows)
    assert_rows_equal(query, rollup.rows, evaluate(query, events, NOW))
    return rollup


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=rich_histories(), asked=st.lists(queries(), min_size=1, max_size=4))
def test_rollup_answers_equal_event_answers(
    engine: Engine, history: tuple[list[list[dict[str, Any]]], set[str]], asked: list[Query]
) -> None:
    assert_served_and_equal(engine, history, asked, feedback_rollup)


def assert_served_and_equal(
    engine: Engine,
    history: tuple[list[list[dict[str, Any]]], set[str]],
    asked: list[Query],
    table: Table,
) -> None:
    """Each query is served by `table` and answers as the events and the oracle do."""
    project = f"p{secrets.token_hex(5)}"
    events = store_history(engine, project, *history)
    for query in asked:
        source = source_for(query, None)
        assert source is not None and source.table is table, to_text(query)
        assert_rollup_answers(engine, query, project, events)


def assert_rollup_answers(engine: Engine, query: Query, project: str, events: list[Event]) -> None:
    """The rollup answers `query` when its window holds a whole UTC day, and answers right."""
    window = window_of(query)
    offsets = offsets_of(query, events, window)
    # Offsets are (0, ()) unless a zone off UTC buckets the events: then the events answer.
    at_utc = offsets is None or offsets == (0, ())
    expected = holds_a_whole_day(window) and at_utc
    plan = RollupPlan.of(query, project, engine.dialect.name, window, offsets)
    assert (plan is not None) is expected, (to_text(query), window, offsets)
    with reading_rollups() as reads:
        check(engine, query, project, events)
    assert len(reads) == (1 if expected else 0), to_text(query)
    if expected and not any(m.fn in (MetricFn.SUM, MetricFn.AVG) for m in query.metrics):
        assert reads[0] is not None, to_text(query)  # only inexact sums fall back


METADATA_KEYS = ["plan", "n", "flag", "missing"]
METADATA_WORDS = ["a", "b", "é", "Zed", 1, 2, -2.5, 0.5, True, False]


@st.composite
def metadata_filters(draw: Any, target: Field) -> Filter | None:
    op = draw(st.sampled_from(list(Op)))
    value: Any
    if op is Op.IN:
        value = tuple(draw(st.lists(st.sampled_from(METADATA_WORDS), min_size=1, max_size=3)))
    elif op is Op.CONTAINS:
        value = draw(st.sampled_from(["a", "Z", "é", ""]))
    else:
        value = draw(st.sampled_from(METADATA_WORDS))
    made = Filter(target, op, value)
    return made if check_filter(made) is None else None


@st.composite
def metadata_queries(draw: Any) -> Query:
    """Queries the metadata rollup holds: one top-level key, grouped and/or filtered by."""
    target = parse_field(f"metadata.{draw(st.sampled_from(METADATA_KEYS))}")
    plain = ["name", "capability", "day", "week"]
    groups: list[Any] = [
        Bucket(BucketUnit(g)) if g in ("day", "week") else parse_field(g)
        for g in draw(st.lists(st.sampled_from(plain), max_size=2, unique=True))
    ]
    chosen = draw(st.lists(filters(("name", "capability", "project")), max_size=2))
    if draw(st.booleans()) and (entry := draw(metadata_filters(target))) is not None:
        chosen.append(entry)
    if draw(st.booleans()) or not any(f.field == target for f in chosen):
        groups.insert(draw(st.integers(0, len(groups))), target)
    counted = [m for m in METRICS if m.fn is not MetricFn.PCT_TRUE]
    return Query(
        metrics=tuple(draw(st.lists(st.sampled_from(counted), min_size=1, max_size=4,
                                    unique_by=lambda m: m.label))),
        group_by=tuple(groups),
        filters=tuple(draw(st.permutations(chosen))),
        since=draw(moments(until=False)),
        until=draw(moments(until=True)),
        tz=draw(st.sampled_from([None, None, "UTC"])),
    )  # fmt: skip


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=rich_histories(), asked=st.lists(metadata_queries(), min_size=1, max_size=4))
def test_metadata_rollup_answers_equal_event_answers(
    engine: Engine, history: tuple[list[list[dict[str, Any]]], set[str]], asked: list[Query]
) -> None:
    assert_served_and_equal(engine, history, asked, feedback_metadata_rollup)


# -- queries the rollup does not serve ---------------------------------------------------------


def _at(days: int, hour: int, minute: int = 0) -> str:
    return (MIDNIGHT - timedelta(days=days) + timedelta(hours=hour, minutes=minute)).isoformat()


@pytest.fixture(scope="module")
def known(engine: Engine) -> tuple[str, list[Event]]:
    """A fixed project: thumbs and numbers around UTC and Paris midnights over a week."""
    project = f"p{secrets.token_hex(5)}"
    batch: list[dict[str, Any]] = []
    for day in range(7):
        for i, (hour, minute) in enumerate([(0, 0), (6, 0), (22, 30), (23, 59)]):
            index = len(batch)
            thumb = {"name": "rq", "kind": "thumb", "value": "up" if (day + i) % 3 else "down"}
            number = {"name": "stars", "kind": "number", "value": index % 5 - day}
            batch.append({
                "id": f"e{index}", "trace_id": f"{1 + index % 3:032x}",
                "span_id": f"{1 + index % 3:016x}", "user_id": f"u{index % 2}",
                "capability": ["x", "y", None][index % 3], "timestamp": _at(day, hour, minute),
                "implicit": False, **(thumb if index % 2 else number),
            })  # fmt: skip
    return project, store_history(engine, project, [batch], set())


def _query(**fields: Any) -> Query:
    defaults: dict[str, Any] = {
        "metrics": (Metric(MetricFn.COUNT), Metric(MetricFn.SATISFACTION), Metric(MetricFn.AVG)),
        "since": MIDNIGHT - timedelta(days=5, hours=5),
        "until": MIDNIGHT - timedelta(hours=3),
    }
    return Query(**{**defaults, **fields})


def _plan(engine: Engine, query: Query, project: str, events: list[Event]) -> RollupPlan | None:
    window = window_of(query)
    offsets = offsets_of(query, events, window)
    return RollupPlan.of(query, project, engine.dialect.name, window, offsets)


def test_the_rollup_serves_utc_days(
    engine: Engine, known: tuple[str, list[Event]], rollup_reads: Reads
) -> None:
    """The control for the tests below: UTC days over a window of several days use it."""
    project, events = known
    query = _query(group_by=(Bucket(BucketUnit.DAY), parse_field("capability")))
    assert _plan(engine, query, project, events) is not None
    answer = check(engine, query, project, events)
    assert len(rollup_reads) == 1 and rollup_reads[0] is not None
    assert len(answer.rows) > 7
    assert answer.rows[0][0] == "2026-03-24T00:00:00Z"


def test_days_in_a_zone_off_utc_read_the_events(
    engine: Engine, known: tuple[str, list[Event]], rollup_reads: Reads
) -> None:
    project, events = known
    paris = _query(group_by=(Bucket(BucketUnit.DAY),), tz="Europe/Paris")
    assert source_for(paris, None) is not None  # only the zone's offsets rule it out
    assert _plan(engine, paris, project, events) is None
    answer = check(engine, paris, project, events)
    assert rollup_reads == []
    assert answer.rows[0][0] == "2026-03-24T00:00:00+01:00"
    utc = check(engine, _query(group_by=(Bucket(BucketUnit.DAY),)), project, events)
    assert [row[1] for row in answer.rows] != [row[1] for row in utc.rows]


@pytest.mark.parametrize(
    "changes",
    [
        {"per": Per.SPAN},
        {"metrics": (Metric(MetricFn.COUNT), Metric(MetricFn.P95, VALUE))},
        {"metrics": (Metric(MetricFn.MEDIAN),)},
        {"metrics": (Metric(MetricFn.MAX, VALUE),)},
        {"metrics": (Metric(MetricFn.COUNT_DISTINCT, parse_field("user_id")),)},
        {"metrics": (Metric(MetricFn.PCT_TRUE, parse_field("implicit")),)},
        {"group_by": (Bucket(BucketUnit.HOUR),)},
        {"group_by": (parse_field("user_id"),)},
        {"filters": (Filter(parse_field("user_id"), Op.EQ, "u1"),)},
        {"filters": (Filter(VALUE, Op.GT, 0.5),)},
    ],
    ids=[
        "per-span",
        "p95",
        "median",
        "max",
        "count-distinct",
        "pct-true-implicit",
        "hour",
        "by-user",
        "user-filter",
        "value-filter",
    ],
)
def test_queries_beyond_the_rollup_read_the_events(
    engine: Engine,
    known: tuple[str, list[Event]],
    rollup_reads: Reads,
    changes: dict[str, Any],
) -> None:
    project, events = known
    query = _query(**changes)
    assert source_for(query, None) is None
    assert _plan(engine, query, project, events) is None
    check(engine, query, project, events)
    assert rollup_reads == []


@pytest.mark.parametrize(
    ("since", "until"),
    [
        (MIDNIGHT - timedelta(hours=20), MIDNIGHT - timedelta(hours=1)),  # inside one day
        (MIDNIGHT - timedelta(hours=26), MIDNIGHT - timedelta(hours=1)),  # 25 h, no whole day
        (MIDNIGHT - timedelta(days=2), MIDNIGHT - timedelta(days=1, microseconds=1)),  # 1 µs short
        (MIDNIGHT, MIDNIGHT - timedelta(days=3)),  # an empty window
    ],
    ids=["within-a-day", "across-midnight", "a-microsecond-short", "backwards"],
)
def test_windows_without_a_whole_day_read_the_events(
    engine: Engine,
    known: tuple[str, list[Event]],
    rollup_reads: Reads,
    since: datetime,
    until: datetime,
) -> None:
    project, events = known
    query = _query(group_by=(Bucket(BucketUnit.DAY), parse_field("capability")), since=since,
                   until=until)  # fmt: skip
    assert source_for(query, None) is not None
    assert _plan(engine, query, project, events) is None
    check(engine, query, project, events)
    assert rollup_reads == []


def test_whole_days_with_partial_edges_add_up(
    engine: Engine, known: tuple[str, list[Event]], rollup_reads: Reads
) -> None:
    """Both edges partial, one whole day between: a minute either side of it is in the answer."""
    project, events = known
    query = _query(
        since=MIDNIGHT - timedelta(days=3, minutes=1),
        until=MIDNIGHT - timedelta(days=2, minutes=-1),
    )
    assert _plan(engine, query, project, events) is not None
    answer = check(engine, query, project, events)
    assert len(rollup_reads) == 1 and rollup_reads[0] is not None
    assert answer.rows[0][0] == 4 + 1 + 1  # the day's 4 events, 23:59 before and 00:00 after


def test_sums_of_fractional_values_read_the_events(engine: Engine, rollup_reads: Reads) -> None:
    """A float sum is not exact once values leave it: such sums come from the events."""
    project = f"p{secrets.token_hex(5)}"
    values = [0.1, 0.2, 2.5, 7]
    batch = [
        {"id": f"e{i}", "name": "stars", "kind": "number", "value": value,
         "conversation_id": "c", "timestamp": _at(3, 10)}
        for i, value in enumerate(values)
    ]  # fmt: skip
    events = store_history(engine, project, [batch, [{**batch[0], "value": 3}]], {"e1"})
    sums = _query(metrics=(Metric(MetricFn.SUM), Metric(MetricFn.AVG)), since=None, until=None)
    assert _plan(engine, sums, project, events) is not None
    assert check(engine, sums, project, events).rows == [[12.5, 12.5 / 3]]
    assert rollup_reads == [None]  # asked, and left the sum to the events
    counted = _query(metrics=(Metric(MetricFn.COUNT),), since=None, until=None)
    assert check(engine, counted, project, events).rows == [[3]]
    assert len(rollup_reads) == 2 and rollup_reads[1] is not None


def test_sums_survive_a_large_value_revised_away(engine: Engine, rollup_reads: Reads) -> None:
    """1e16 + 1 - 1e16 == 0.0 in the rollup: once 1e16 was in a cell, its sums come from events."""
    project = f"p{secrets.token_hex(5)}"
    first = {"id": "e0", "name": "latency", "kind": "number", "value": 1e16,
             "conversation_id": "c", "timestamp": _at(3, 10)}  # fmt: skip
    other = {**first, "id": "e1", "value": 1}
    events = store_history(engine, project, [[first, other], [{**first, "value": 2}]], set())
    query = _query(metrics=(Metric(MetricFn.SUM), Metric(MetricFn.AVG)), since=None, until=None)
    assert _plan(engine, query, project, events) is not None
    assert check(engine, query, project, events).rows == [[3.0, 1.5]]
    assert rollup_reads == [None]


@pytest.mark.parametrize("document", [{"plan": {"k": 1}}, {"plan": [1]}])
def test_objects_in_a_grouped_path_are_the_null_group(
    engine: Engine, request: pytest.FixtureRequest, document: dict[str, Any]
) -> None:
    """An object or array where a grouped path leads counts in the `null` group (docs/query.md)."""
    project = f"p{secrets.token_hex(5)}"
    without = {"id": "e0", "name": "cat", "value": "a", "conversation_id": "c",
               "timestamp": _at(3, 10)}  # fmt: skip
    events = store_history(
        engine, project, [[without, {**without, "id": "e1", "metadata": document}]], set()
    )
    query = Query(metrics=(Metric(MetricFn.COUNT),), group_by=(parse_field("metadata.plan"),))
    assert evaluate(query, events, NOW) == [[None, 2]]
    check(engine, query, project, events)


def test_digit_segments_index_arrays(engine: Engine) -> None:
    project = f"p{secrets.token_hex(5)}"
    raw = {"id": "e0", "name": "cat", "value": "a", "conversation_id": "c",
           "timestamp": _at(3, 10), "metadata": {"0": "x"}}  # fmt: skip
    events = store_history(engine, project, [[raw]], set())
    for query in (
        Query(metrics=(Metric(MetricFn.COUNT),), group_by=(parse_field("metadata.0"),)),
        Query(
            metrics=(Metric(MetricFn.COUNT),),
            filters=(Filter(parse_field("metadata.0"), Op.EQ, "x"),),
        ),
    ):
        assert evaluate(query, events, NOW) in ([[None, 1]], [[0]])
        check(engine, query, project, events)


def test_true_and_one_are_different_groups(engine: Engine) -> None:
    """Python holds True == 1; a JSON true and the number 1 must still be two groups."""
    project = f"p{secrets.token_hex(5)}"
    base = {"name": "rq", "conversation_id": "c", "timestamp": _at(3, 10)}
    batch = [
        {**base, "id": "e0", "value": "up", "metadata": {"x": True}},
        {**base, "id": "e1", "value": "up", "metadata": {"x": 1}},
        {**base, "id": "e2", "value": "down", "metadata": {"x": 1.0}},
    ]
    store_history(engine, project, [batch], set())
    grouped = parse_query("count, satisfaction by metadata.x")
    spread = parse_query("distribution(metadata.x)")
    with engine.connect() as connection:
        for use_rollup in (True, False):
            answer = run_query(connection, grouped, project, now=NOW, use_rollup=use_rollup)
            assert answer.rows == [[True, 1, 1.0], [1, 2, 0.5]]
            assert [type(row[0]) for row in answer.rows] == [bool, int]
        counts = run_query(connection, spread, project, now=NOW).rows[0][0]
        assert counts == [{"value": True, "count": 1}, {"value": 1, "count": 2}]
