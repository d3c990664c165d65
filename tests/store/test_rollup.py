"""The per-day rollups (migration 0005) stay exact through every write path, on both stores.

After any sequence of inserts, revisions (in the same batch or later), deletes, span writes that
link waiting feedback (filling `capability` and `step`) and start-up linking, `feedback_rollup`
and `feedback_metadata_rollup` hold exactly what a plain-Python grouping of the `feedback` rows
gives, and no empty cell. The migration's backfill gives the same, also after a downgrade and a
second upgrade.
"""

import math
import random
import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Connection,
    Engine,
    delete,
    insert,
    inspect,
    select,
    update,
)

from plaudit.core.feedback import SignalType, Source, label_value, numeric_value
from plaudit.core.privacy import PiiMode
from plaudit.core.spans import SpanRecord
from plaudit.core.validation import validate_feedback
from plaudit.store.bulk import FEW
from plaudit.store.database import create_database_engine
from plaudit.store.feedback import DeleteFeedback, StoreFeedback
from plaudit.store.migrate import downgrade, upgrade
from plaudit.store.rollup_writes import EXACT, rebuild
from plaudit.store.schema import (
    ROLLUP_DIMENSIONS,
    feedback,
    feedback_metadata_rollup,
    feedback_rollup,
    spans,
)
from plaudit.store.spans import LinkAllPending, StoreSpans
from plaudit.store.sql_query import event_micros
from tests.conftest import fresh_database

REDACT = PiiMode.REDACT
NOW = datetime(2026, 3, 30, 12, tzinfo=UTC)
DAY = 86_400_000_000


def _span(
    number: int, attributes: dict[str, Any] | None = None, capability: str | None = None
) -> SpanRecord:
    attributes = dict(attributes or {})
    if capability is not None:
        attributes["plaudit.capability"] = capability
    return SpanRecord.build(
        trace_id=f"{number:032x}",
        span_id=f"{number:016x}",
        name=f"span{number}",
        start_time_ns=0,
        end_time_ns=1,
        attributes=attributes,
    )


# Stored before any feedback of an example: events about them are linked when inserted.
EARLY = [
    _span(1, {"plaudit.step": "s"}, capability="cap"),
    _span(2),
]
# Stored later by an operation of the example: events about them wait, then get linked.
LATE = [
    _span(3, {"plaudit.step": "ls"}, capability="late"),
    _span(4, capability="late"),
    _span(5, {"gen_ai.conversation.id": "conv-5"}),
    _span(6, {"plaudit.step": "s"}, capability=""),  # an empty attribute says nothing
]
NEVER = _span(7)  # never stored: its events stay pending
ALL_SPANS = [*EARLY, *LATE, NEVER]

IDS = [f"e{i}" for i in range(8)]
DAYS = [date(1, 1, 2), date(1969, 12, 30), date(1969, 12, 31), date(1970, 1, 1),
        date(2026, 3, 28), date(2026, 3, 29), date(9999, 12, 30)]  # fmt: skip
ZONES = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]

VALUES_BY_NAME: dict[str, tuple[str, Any]] = {
    # name: (kind, strategy of its value)
    "rq": ("thumb", st.sampled_from(["up", "down", 1, -1])),
    "stars": ("number", st.one_of(st.integers(-5, 5), st.sampled_from([2.5, 0.25, -3.75]))),
    # Fractional and large values: their cells' value_inexact says value_sum may be off.
    "frac": ("number", st.sampled_from([0.1, 0.2, -0.3, 1e-3, 1234.5678, 0.0, 2**20, 2**20 + 1])),
    "flag": ("bool", st.booleans()),
    "cat": ("enum", st.sampled_from(["a", "b", "Zed"])),
    "copy": ("signal", st.none()),
    "obj": ("object", st.fixed_dictionaries({"n": st.integers(0, 3)})),
}
METADATA_VALUES = st.one_of(
    st.sampled_from(["a", "b", "é", ""]),
    st.integers(-2, 2),
    st.sampled_from([1.0, 0.5, -2.25, 0.1, 2**53 + 1]),  # 1.0 and 1 are one entry
    st.booleans(),
    st.sampled_from([None, {}, {"x": 1}, [1]]),  # not scalars: no entry
)
METADATA = st.dictionaries(st.sampled_from(["plan", "n", "flag", "a.b", "", "é"]), METADATA_VALUES,
                           max_size=3)  # fmt: skip
OFFSETS = st.one_of(st.just(0), st.just(1), st.just(DAY - 1), st.integers(0, DAY - 1))


def _target(draw: Any) -> dict[str, Any]:
    """Where an event points: a span (with or without its trace), a trace, a conversation."""
    choice = draw(st.sampled_from(["span", "span", "span", "trace", "conversation", "mismatch"]))
    if choice == "span":
        span = draw(st.sampled_from([*ALL_SPANS, *LATE]))  # mostly spans stored late
        with_trace = draw(st.booleans())
        return {"span_id": span.span_id, **({"trace_id": span.trace_id} if with_trace else {})}
    if choice == "trace":
        return {"trace_id": draw(st.sampled_from([LATE[0].trace_id, NEVER.trace_id]))}
    if choice == "conversation":
        return {"conversation_id": draw(st.sampled_from(["conv-5", "conv-none"]))}
    # A stored span named with another trace: never linked.
    return {"trace_id": EARLY[0].trace_id, "span_id": LATE[0].span_id}


@st.composite
def events(draw: Any) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(VALUES_BY_NAME)))
    kind, values = VALUES_BY_NAME[name]
    day = draw(st.sampled_from(DAYS))
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
        microseconds=draw(OFFSETS)
    )
    raw: dict[str, Any] = {
        "id": draw(st.sampled_from(IDS)),
        "name": name,
        "kind": kind,
        "timestamp": moment.astimezone(draw(st.sampled_from(ZONES))).isoformat(),
        **_target(draw),
    }
    optional = {
        "capability": st.sampled_from([None, None, "", "x"]),
        "step": st.sampled_from([None, "s"]),
        "source": st.sampled_from([None, *(s.value for s in Source)]),
        "signal_type": st.sampled_from([None, *(s.value for s in SignalType)]),
        "implicit": st.sampled_from([None, True, False]),
        "user_id": st.sampled_from([None, "u1"]),
    }
    for field, strategy in optional.items():
        if (chosen := draw(strategy)) is not None:
            raw[field] = chosen
    value = draw(values)
    if value is not None:
        raw["value"] = value
    if (metadata := draw(st.one_of(st.none(), METADATA))) is not None:
        raw["metadata"] = metadata
    return raw


BATCH = st.lists(events(), min_size=1, max_size=8)
OPERATIONS = st.one_of(
    # One transaction of one or two StoreFeedback ops (the writer's group commit).
    st.tuples(st.just("store"), st.lists(BATCH, min_size=1, max_size=2)),
    # The same with more ids than one statement takes VALUES for: the path of big batches.
    st.tuples(st.just("store_many"), BATCH),
    st.tuples(
        st.just("delete"),
        st.lists(st.sampled_from([*IDS, "absent"]), min_size=1, max_size=3, unique=True),
    ),
    # OTLP's path: spans stored, waiting feedback linked in the same transaction.
    st.tuples(st.just("spans"), st.lists(st.sampled_from(LATE), min_size=1, max_size=3)),
    # Spans written without linking, then the start-up pass links what waited for them.
    st.tuples(st.just("link_all"), st.lists(st.sampled_from(LATE), min_size=1, max_size=2)),
)


def _validated(batch: list[dict[str, Any]]) -> list[Any]:
    validated = [validate_feedback(raw, pointer="", now=NOW, configs={}) for raw in batch]
    assert all(not isinstance(e, list) for e in validated), validated
    return validated


def store_spans(connection: Connection, project: str, records: list[SpanRecord]) -> None:
    StoreSpans.apply_group(connection, [StoreSpans(project, records[:1], NOW),
                                        StoreSpans(project, records[1:], NOW)])  # fmt: skip


def apply_operation(engine: Engine, project: str, operation: tuple[str, Any]) -> None:
    kind, argument = operation
    with engine.begin() as connection:
        if kind == "store":
            ops = [StoreFeedback(project, _validated(b), NOW, None, pii=REDACT) for b in argument]
            StoreFeedback.apply_group(connection, ops)
        elif kind == "store_many":
            filler = [{"id": f"pad{secrets.token_hex(6)}", "name": "rq", "value": "up",
                       "span_id": NEVER.span_id} for _ in range(FEW + 1)]  # fmt: skip
            events = _validated([*argument, *filler])
            StoreFeedback(project, events, NOW, None, pii=REDACT).apply(connection)
        elif kind == "delete":
            for event_id in argument:
                DeleteFeedback(project, event_id, NOW, None).apply(connection)
        elif kind == "spans":
            store_spans(connection, project, argument)
        else:
            rows = [
                {"project": project, **{c: getattr(r, c) for c in SPAN_COLUMNS},
                 "received_at": NOW}
                for r in {r.span_id: r for r in argument}.values()
            ]  # fmt: skip
            existing = set(
                connection.scalars(select(spans.c.span_id).where(spans.c.project == project))
            )
            rows = [row for row in rows if row["span_id"] not in existing]
            if rows:
                connection.execute(insert(spans), rows)
            LinkAllPending().apply(connection)


SPAN_COLUMNS = (
    "trace_id", "span_id", "parent_span_id", "name", "kind", "start_time_ns", "end_time_ns",
    "status_code", "status_message", "attributes", "events", "links", "resource", "scope",
    "capability", "step", "conversation_id", "user_id",
)  # fmt: skip

Cell = tuple[int, tuple[Any, ...]]
# count, up, down, value_count, value_sum, value_inexact
Sums = tuple[int, int, int, int, float, int]
MEASURES = ("count", "up", "down", "value_count", "value_sum", "value_inexact")


def _sums(events: list[tuple[str, float | None]]) -> Sums:
    """What a cell holds for events of these (kind, value_num)."""
    numbers = [n for _, n in events if n is not None]
    return (
        len(events),
        sum(kind == "thumb" and n is not None and n > 0 for kind, n in events),
        sum(kind == "thumb" and n is not None and n < 0 for kind, n in events),
        len(numbers),
        math.fsum(numbers),
        # Values a float sum may not add and subtract exactly.
        sum(n != round(n) or abs(n) > EXACT for n in numbers),
    )


def recomputed(connection: Connection, project: str) -> dict[Cell, Sums]:
    """The rollup of `project`, grouped in Python from its `feedback` rows."""
    dimensions = [feedback.c[d] for d in ROLLUP_DIMENSIONS]
    query = select(event_micros, *dimensions, feedback.c.kind, feedback.c.value_num).where(
        feedback.c.project == project
    )
    cells: dict[Cell, list[tuple[str, float | None]]] = {}
    for micros, *values, kind, number in connection.execute(query):
        day = micros - micros % DAY  # Python's % floors, also before 1970
        cells.setdefault((day, tuple(values)), []).append((kind, number))
    return {key: _sums(events) for key, events in cells.items()}


def stored(connection: Connection, project: str) -> dict[Cell, Sums]:
    """The rollup rows of `project`, checking `cell` names one combination of dimensions."""
    table = feedback_rollup.c
    dimensions = [table[d] for d in ROLLUP_DIMENSIONS]
    query = select(table.day, table.cell, *dimensions, *(table[m] for m in MEASURES)).where(
        table.project == project
    )
    rows: dict[Cell, Sums] = {}
    cells: dict[tuple[int, str], tuple[Any, ...]] = {}
    width = len(ROLLUP_DIMENSIONS)
    for day, cell, *rest in connection.execute(query):
        values, sums = tuple(rest[:width]), tuple(rest[width:])
        # One row per combination (NULL and "" apart), one combination per cell key.
        assert (day, values) not in rows, (day, values)
        assert cells.setdefault((day, cell), values) == values, (cell, values)
        rows[(day, values)] = sums
    return rows


Entry = tuple[int, str, str | None, str, str, str | None, float | None]


def _entry(key: str, value: Any) -> tuple[str, str, str | None, float | None] | None:
    """(key, value_type, value_text, value_num) of a metadata entry with a scalar value."""
    if isinstance(value, bool):
        return key, "b", None, 1.0 if value else 0.0
    if isinstance(value, int | float):
        return key, "n", None, float(value)
    if isinstance(value, str):
        return key, "s", value, None
    return None


def recomputed_metadata(connection: Connection, project: str) -> dict[Entry, Sums]:
    """The metadata rollup of `project`, grouped in Python from its `feedback` rows."""
    c = feedback.c
    query = select(event_micros, c.name, c.capability, c.metadata, c.kind, c.value_num).where(
        c.project == project
    )
    cells: dict[Entry, list[tuple[str, float | None]]] = {}
    for micros, name, capability, document, kind, number in connection.execute(query):
        for key, value in (document or {}).items():
            if (entry := _entry(key, value)) is not None:
                cell = (micros - micros % DAY, name, capability, *entry)
                cells.setdefault(cell, []).append((kind, number))
    return {key: _sums(events) for key, events in cells.items()}


def stored_metadata(connection: Connection, project: str) -> dict[Entry, Sums]:
    table = feedback_metadata_rollup.c
    entry = (table.day, table.name, table.capability, table.key, table.value_type,
             table.value_text, table.value_num)  # fmt: skip
    query = select(*entry, *(table[m] for m in MEASURES)).where(table.project == project)
    rows: dict[Entry, Sums] = {}
    for row in connection.execute(query):
        key, sums = tuple(row[: len(entry)]), tuple(row[len(entry) :])
        assert key not in rows, key  # one row per entry and combination
        rows[key] = sums
    return rows


def _assert_same_sums(got: dict[Any, Sums], want: dict[Any, Sums], rebuilt: bool) -> None:
    """The same cells with the same sums.

    `value_inexact` never decreases (a value leaving may leave its rounding in `value_sum`), so
    it is at least the inexact values a cell holds, and exactly that just after a rebuild. Where
    it is 0, `value_sum` is exact; elsewhere the reader does not use it.
    """
    assert all(sums[0] > 0 for sums in got.values()), got
    assert sorted(got, key=repr) == sorted(want, key=repr), (got, want)
    for key, wanted in want.items():
        found = got[key]
        assert found[:4] == wanted[:4], (key, found, wanted)
        assert all(type(n) is int for n in (*found[:4], found[5])), found
        if rebuilt:
            assert found[5] == wanted[5], (key, found, wanted)
        assert found[5] >= wanted[5], (key, found, wanted)
        if found[5] == 0:
            assert found[4] == wanted[4], (key, found, wanted)


def assert_rollup_exact(connection: Connection, project: str, rebuilt: bool = False) -> None:
    """Both rollups of `project` hold what its events add up to."""
    _assert_same_sums(stored(connection, project), recomputed(connection, project), rebuilt)
    _assert_same_sums(
        stored_metadata(connection, project), recomputed_metadata(connection, project), rebuilt
    )


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=BATCH, operations=st.lists(OPERATIONS, min_size=1, max_size=6))
def test_rollup_stays_exact_through_every_write_path(
    engine: Engine, first: list[dict[str, Any]], operations: list[tuple[str, Any]]
) -> None:
    project = f"p{secrets.token_hex(5)}"
    with engine.begin() as connection:
        store_spans(connection, project, EARLY)
    # The last operation stores every late span: whatever still waits for one gets linked.
    for operation in [("store", [first]), *operations, ("spans", LATE)]:
        apply_operation(engine, project, operation)
        with engine.connect() as connection:
            assert_rollup_exact(connection, project)


def test_linking_moves_events_to_their_spans_cells(engine: Engine) -> None:
    """A deterministic look at the link path: the pending cell empties, the linked one fills."""
    project = f"p{secrets.token_hex(5)}"
    span = LATE[0]
    batch = [
        {"id": f"w{i}", "name": "rq", "kind": "thumb", "value": value, "span_id": span.span_id,
         "timestamp": "1969-12-31T23:59:59.999999Z"}
        for i, value in enumerate(["up", "up", "down"])
    ]  # fmt: skip
    with engine.begin() as connection:
        StoreFeedback(project, _validated(batch), NOW, None, pii=REDACT).apply(connection)
    table = feedback_rollup.c
    columns = (table.day, table.capability, table.step, table.link_status, table["count"],
               table.up, table.down)  # fmt: skip
    query = select(*columns).where(table.project == project)
    with engine.connect() as connection:
        assert connection.execute(query).all() == [(-DAY, None, None, "pending", 3, 2, 1)]
    with engine.begin() as connection:
        store_spans(connection, project, [span])
    with engine.connect() as connection:
        assert connection.execute(query).all() == [(-DAY, "late", "ls", "linked", 3, 2, 1)]
        assert_rollup_exact(connection, project)


def test_a_large_value_leaving_its_cell_leaves_it_inexact(engine: Engine) -> None:
    """1e16 + 1 - 1e16 == 0.0: the cell the large value left keeps saying its sum is inexact."""
    project = f"p{secrets.token_hex(5)}"
    batch = [
        {"id": "big", "name": "latency", "kind": "number", "value": 1e16,
         "span_id": LATE[0].span_id, "timestamp": "2026-03-28T10:00:00Z"},
        {"id": "small", "name": "latency", "kind": "number", "value": 1,
         "span_id": NEVER.span_id, "timestamp": "2026-03-28T11:00:00Z"},
    ]  # fmt: skip
    with engine.begin() as connection:
        StoreFeedback(project, _validated(batch), NOW, None, pii=REDACT).apply(connection)
        store_spans(connection, project, [LATE[0]])  # links `big` out of the pending cell
    table = feedback_rollup.c
    query = select(table.link_status, table.value_count, table.value_inexact).where(
        table.project == project
    )
    with engine.connect() as connection:
        assert_rollup_exact(connection, project)
        assert sorted(connection.execute(query).all()) == [("linked", 1, 1), ("pending", 1, 1)]


def test_cells_added_on_insert_are_the_cells_a_rebuild_makes(engine: Engine) -> None:
    """Inserts add their rows' sums from Python on PostgreSQL; a rebuild reads them back in SQL.
    Both must name every cell with the same key text, or a later removal would miss its cell
    (-0.0 is 0 once stored as jsonb)."""
    project = f"p{secrets.token_hex(5)}"
    metadata = [{"plan": "pro", "n": 0.1, "flag": True}, {"n": 2**53 + 1, "": "é", "x": None},
                {"n": -2.25, "plan": ""}, {"n": 1, "o": {"k": 1}}, {"n": -0.0}, {"n": 0},
                {}, {"q": 'say "hi"\n', "k\\": 3}, {"n": 2**53, "m": -(2**53)}]  # fmt: skip
    batch = [
        {"id": f"c{i}", "name": ["rq", "stars"][i % 2], "kind": ["thumb", "number"][i % 2],
         "value": [1, 0.3][i % 2], "span_id": [EARLY[0].span_id, NEVER.span_id][i % 2],
         "timestamp": ["1969-12-31T23:59:59Z", "2026-03-28T10:00:00Z"][i % 3 % 2],
         "metadata": metadata[i % len(metadata)]}
        for i in range(18)
    ]  # fmt: skip
    with engine.begin() as connection:  # a few ids, then one at a time, then many at once
        StoreFeedback(project, _validated(batch[:6]), NOW, None, pii=REDACT).apply(connection)
    for event in _validated(batch[6:9]):
        with engine.begin() as connection:
            StoreFeedback(project, [event], NOW, None, pii=REDACT).apply(connection)
    many = [{**event, "id": f"m{i}"} for i, event in enumerate(batch * 2)]
    with engine.begin() as connection:
        StoreFeedback(project, _validated(many), NOW, None, pii=REDACT).apply(connection)

    def cells() -> list[list[Any]]:
        with engine.connect() as connection:
            return [
                sorted(map(tuple, connection.execute(select(t).where(t.c.project == project))))
                for t in (feedback_rollup, feedback_metadata_rollup)
            ]

    added = cells()
    assert len(added[0]) == 4 and len(added[1]) >= 12, added
    with engine.begin() as connection:
        rebuild(connection)
    assert cells() == added


def test_metadata_numbers_beyond_64_bits_are_refused_before_they_reach_the_store() -> None:
    """A JSON body cannot carry them (msgspec refuses); a dict from the SDK is refused the same."""
    raw = {"id": "e0", "name": "rq", "value": "up", "conversation_id": "c",
           "timestamp": "2026-03-28T10:00:00Z", "metadata": {"order": 10**400}}  # fmt: skip
    issues = validate_feedback(raw, pointer="", now=NOW, configs={})
    assert isinstance(issues, list)
    assert [(i.pointer, i.message) for i in issues] == [
        ("/metadata", "holds an integer beyond the 64-bit range, which cannot be stored")
    ]


# -- the migration's backfill -------------------------------------------------------------------


@pytest.fixture
def fresh_engine(dialect: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a new, empty database of its own (not migrated)."""
    with fresh_database(dialect, tmp_path) as url:
        engine = create_database_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def sample_batch(rng: random.Random, size: int, prefix: str) -> list[dict[str, Any]]:
    """Events like `events()` draws, from a seeded generator (ids `prefix`0…)."""
    values: dict[str, list[Any]] = {
        "rq": ["up", "down", 1, -1], "stars": [3, -2, 2.5, 0.25], "frac": [0.1, 0.2, -0.3],
        "flag": [True, False], "cat": ["a", "b"], "copy": [None], "obj": [{"n": 1}],
    }  # fmt: skip
    batch = []
    for i in range(size):
        name = rng.choice(sorted(values))
        day = rng.choice(DAYS)
        offset = rng.choice([0, 1, DAY - 1, rng.randrange(DAY)])
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(microseconds=offset)
        span = rng.choice(ALL_SPANS)
        raw: dict[str, Any] = {
            "id": f"{prefix}{i}", "name": name, "kind": VALUES_BY_NAME[name][0],
            "timestamp": moment.isoformat(), "span_id": span.span_id,
            "capability": rng.choice([None, "", "x"]), "step": rng.choice([None, "s"]),
            "source": rng.choice(list(Source)).value,
            "signal_type": rng.choice(list(SignalType)).value,
            "implicit": rng.choice([True, False]),
            "metadata": rng.choice([None, {"plan": "a", "n": 2}, {"flag": True, "o": {}},
                                    {"n": 0.5, "": "é", "plan": None}]),
        }  # fmt: skip
        if (value := rng.choice(values[name])) is not None:
            raw["value"] = value
        batch.append(raw)
    return batch


def plain_rows(rng: random.Random, project: str, prefix: str) -> list[dict[str, Any]]:
    """`feedback` rows written with plain SQL, as before migration 0005 (no rollup to keep)."""
    rows = []
    for event in _validated(sample_batch(rng, 40, prefix)):
        rows.append({
            "project": project, "id": event.id, "trace_id": event.trace_id,
            "span_id": event.span_id, "conversation_id": None, "capability": event.capability,
            "step": event.step, "name": event.name, "kind": event.kind.value,
            "value": event.value, "value_num": numeric_value(event.kind, event.value),
            "value_text": label_value(event.kind, event.value), "comment": None,
            "expected": None, "scores": None, "signal_type": event.signal_type.value,
            "source": event.source.value, "implicit": event.implicit, "user_id": None,
            "metadata": event.metadata, "tags": [], "timestamp": event.timestamp,
            "received_at": NOW, "link_status": rng.choice(["pending", "linked"]), "pii": None,
            "content_hash": event.content_hash, "revision": 1,
        })  # fmt: skip
    return rows


def test_migration_backfills_the_rollups(fresh_engine: Engine) -> None:
    engine, rng = fresh_engine, random.Random(5)
    projects = ["alpha", "beta"]

    def write_plainly(prefix: str) -> None:
        """Rows inserted, changed and deleted with plain SQL, while no rollup exists."""
        with engine.begin() as connection:
            for project in projects:
                connection.execute(insert(feedback), plain_rows(rng, project, prefix))
                mine = (feedback.c.project == project) & feedback.c.id.like(f"{prefix}%")
                moved = mine & feedback.c.id.in_([f"{prefix}{i}" for i in range(0, 40, 3)])
                connection.execute(
                    update(feedback)
                    .where(moved)
                    .values(capability="moved", timestamp=feedback.c.timestamp - DAY // 3)
                )
                gone = mine & feedback.c.id.in_([f"{prefix}{i}" for i in range(1, 40, 7)])
                connection.execute(delete(feedback).where(gone))

    def assert_exact(rebuilt: bool = True) -> None:
        with engine.connect() as connection:
            for project in projects:
                assert recomputed(connection, project), project
                assert recomputed_metadata(connection, project), project
                assert_rollup_exact(connection, project, rebuilt)

    upgrade(engine, "0004")
    assert "feedback_rollup" not in inspect(engine).get_table_names()
    write_plainly("a")

    upgrade(engine)
    assert_exact()

    downgrade(engine, "0004")
    tables = inspect(engine).get_table_names()
    assert "feedback_rollup" not in tables and "feedback_metadata_rollup" not in tables
    write_plainly("b")  # nothing is left behind that needs a rollup table

    upgrade(engine)
    assert_exact()
    # And the write paths keep the backfilled rollups exact.
    for project in projects:
        with engine.begin() as connection:
            store_spans(connection, project, ALL_SPANS)
            batch = sample_batch(rng, 30, "a")  # revises backfilled events
            StoreFeedback(project, _validated(batch), NOW, None, pii=REDACT).apply(connection)
            for i in range(2, 40, 5):
                DeleteFeedback(project, f"b{i}", NOW, None).apply(connection)
    assert_exact(rebuilt=False)
