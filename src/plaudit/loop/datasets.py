"""Adding examples to datasets: from a client's list, from feedback matching a filter, from a
trace; shared by the API, the CLI and the console.

Reading what to add happens outside the writer (it may be 100,000 events); deciding what is new
and storing it happens inside, in one transaction, so a version is never half written.
"""

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from sqlalchemy import Connection

from plaudit.core.dataset_mapping import check_mapping, map_span
from plaudit.core.datasets import MAX_EXAMPLES_PER_CALL, Example, check_example, patch_content
from plaudit.core.ids import is_span_id, is_trace_id
from plaudit.core.query.model import Filter, Moment, QueryError
from plaudit.core.query.text import parse_filters, parse_moment
from plaudit.core.validation import Issue
from plaudit.errors import NotFound, ValidationFailed
from plaudit.store.dataset_sources import span_facts_for_feedback, span_facts_for_trace
from plaudit.store.datasets import Applied, Changes, apply_changes, current_contents
from plaudit.store.schema import to_micros
from plaudit.store.sql_aggregate import Window


class FromFeedback(msgspec.Struct, forbid_unknown_fields=True):
    """Every span with feedback matching `query` (the `where` part of a §4 query)."""

    query: str
    since: str | None = None
    until: str | None = None
    limit: Annotated[int, msgspec.Meta(ge=1)] | None = None


class FromTrace(msgspec.Struct, forbid_unknown_fields=True):
    """One span of a trace (its root span when `span_id` is absent)."""

    trace_id: str
    span_id: str | None = None


class AddExamples(msgspec.Struct, forbid_unknown_fields=True):
    """The body of `POST /v1/datasets/{name}/examples`: exactly one way of adding."""

    examples: list[Any] | None = None
    from_feedback: FromFeedback | None = None
    from_trace: FromTrace | None = None
    mapping: dict[str, Any] | None = None


@dataclass
class Prepared:
    """Examples ready to store, the client's rejected items, and whether re-runs merge."""

    examples: list[Example] = field(default_factory=list)
    rejected: dict[int, list[Issue]] = field(default_factory=dict)
    order: list[str | None] = field(default_factory=list)  # per item: its id (None: rejected)
    from_spans: bool = False


def _invalid(pointer: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{pointer}: {message}", issues=[Issue(pointer, message)])


def filters_of(text: str, pointer: str) -> list[Filter]:
    """Filter text as after `where`, or a 422 pointing at it."""
    try:
        return parse_filters(text)
    except QueryError as error:
        where = f" at position {error.position}" if error.position is not None else ""
        raise _invalid(pointer, f"{error.message}{where}") from None


def window_of(since: str | None, until: str | None, pointer: str, now: datetime) -> Window:
    """`since`/`until` (7d, 24h or RFC 3339) as a window, or a 422 pointing at the bad one."""

    def micros(text: str | None, name: str) -> int | None:
        if text is None:
            return None
        try:
            moment: Moment = parse_moment(text)
        except QueryError as error:
            raise _invalid(f"{pointer}/{name}", error.message) from None
        return to_micros(moment if isinstance(moment, datetime) else moment.at(now))

    return Window(micros(since, "since"), micros(until, "until"))


def checked_examples(items: Sequence[Any], pointer: str) -> Prepared:
    """Client examples checked one by one: a bad item is rejected, the rest kept."""
    prepared = Prepared()
    for index, raw in enumerate(items):
        checked = check_example(raw, f"{pointer}/{index}")
        if isinstance(checked, Example):
            prepared.examples.append(checked)
            prepared.order.append(checked.id)
        else:
            prepared.rejected[index] = checked
            prepared.order.append(None)
    return prepared


def prepare(connection: Connection, project: str, body: AddExamples) -> Prepared:
    """What a request adds, read from the database where it names spans or feedback."""
    given = [n for n in ("examples", "from_feedback", "from_trace") if getattr(body, n) is not None]
    if len(given) != 1:
        raise _invalid("/", "send exactly one of examples, from_feedback or from_trace")
    mapping = check_mapping(body.mapping)
    if isinstance(mapping, list):
        raise ValidationFailed("the mapping is invalid", issues=mapping)
    if body.examples is not None:
        if len(body.examples) > MAX_EXAMPLES_PER_CALL:
            raise ValidationFailed(
                f"at most {MAX_EXAMPLES_PER_CALL} examples per call",
                issues=[Issue("/examples", f"at most {MAX_EXAMPLES_PER_CALL} examples")],
                limit="examples_per_call",
            )
        return checked_examples(body.examples, "/examples")
    fields = frozenset(_field_root(str(source)) for source in mapping.values())
    if body.from_feedback is not None:
        spec = body.from_feedback
        filters = filters_of(spec.query, "/from_feedback/query")
        window = window_of(spec.since, spec.until, "/from_feedback", datetime.now(UTC))
        with few_collections():
            found = span_facts_for_feedback(
                connection, project, filters, window, spec.limit, fields
            )
            examples = [map_span(facts, mapping) for facts in found]
    else:
        examples = [map_span(_trace_facts(connection, project, body.from_trace), mapping)]
    return Prepared(examples, {}, [e.id for e in examples], from_spans=True)


@contextmanager
def few_collections() -> Iterator[None]:
    """Pause the cyclic garbage collector while 100,000 events become examples.

    The work allocates millions of small dicts and lists, none of them in cycles, and the
    collector's repeated full passes over them took half the time of `from_feedback` (measured
    with bench/datasets.py); reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _field_root(source: str) -> str:
    """`span`, `trace`, or for `feedback.<field>…` the field it reads."""
    root, _, rest = source.partition(".")
    return rest.split(".", 1)[0] if root == "feedback" else root


def _trace_facts(connection: Connection, project: str, spec: FromTrace | None) -> Any:
    assert spec is not None
    if not is_trace_id(spec.trace_id):
        raise _invalid("/from_trace/trace_id", "must be 32 lowercase hex characters")
    if spec.span_id is not None and not is_span_id(spec.span_id):
        raise _invalid("/from_trace/span_id", "must be 16 lowercase hex characters")
    facts = span_facts_for_trace(connection, project, spec.trace_id, spec.span_id)
    if facts is None:
        target = f"span {spec.span_id} of trace" if spec.span_id else "trace"
        raise NotFound(f"no {target} {spec.trace_id} in project {project!r}")
    return facts


def _rerun(example: Example, current: dict[str, Any] | None) -> Example:
    """A span added again: unchanged while no new feedback arrived on it; otherwise remade,
    keeping what a reviewer or an edit gave it (`expected`, the `filled` status)."""
    if current is None:
        return example
    known = set((current.get("source") or {}).get("feedback_ids") or [])
    if set(example.content["source"]["feedback_ids"]) <= known:
        return Example(example.id, current)
    content = dict(example.content)
    if content["expected"] is None:
        content["expected"] = current.get("expected")
    if current.get("annotation_status") == "filled":
        content["annotation_status"] = "filled"
    return Example(example.id, content)


def store_prepared(
    connection: Connection, project: str, dataset: str, prepared: Prepared, now: datetime
) -> Applied:
    """Store prepared examples as one version (inside the writer's transaction)."""
    examples = prepared.examples
    with few_collections():
        if prepared.from_spans:
            current = current_contents(connection, project, dataset, [e.id for e in examples])
            examples = [_rerun(e, current.get(e.id)) for e in examples]
        changes = Changes(upserts={e.id: e for e in examples})
        return apply_changes(connection, project, dataset, changes, now)


def results_of(prepared: Prepared, applied: Applied) -> dict[str, Any]:
    """The answer: the version and each item's result, in the request's order."""
    results: list[dict[str, Any]] = []
    for index, example_id in enumerate(prepared.order):
        if example_id is None:
            issues = prepared.rejected[index]
            error = {
                "detail": "; ".join(f"{i.pointer}: {i.message}" for i in issues),
                "errors": [{"pointer": i.pointer, "detail": i.message} for i in issues],
            }
            results.append({"id": None, "status": "rejected", "error": error})
        else:
            results.append({"id": example_id, "status": applied.statuses[example_id]})
    return {"version": applied.version, "results": results}


def patch_example(
    connection: Connection,
    project: str,
    dataset: str,
    example_id: str,
    patch: Any,
    now: datetime,
) -> dict[str, Any]:
    """Deep-merge `patch` into an example: a new version if it changed anything."""
    current = current_contents(connection, project, dataset, [example_id]).get(example_id)
    if current is None:
        raise NotFound(f"no example {example_id!r} in dataset {dataset!r}")
    patched = patch_content(current, patch)
    if isinstance(patched, list):
        raise ValidationFailed("the patch is invalid", issues=patched)
    changes = Changes(upserts={example_id: Example(example_id, patched)})
    applied = apply_changes(connection, project, dataset, changes, now)
    return {"version": applied.version, "example": {"id": example_id, **patched}}


def remove_example(
    connection: Connection, project: str, dataset: str, example_id: str, now: datetime
) -> int:
    """Remove an example from the next version (older versions keep it); the new version."""
    if not current_contents(connection, project, dataset, [example_id]):
        raise NotFound(f"no example {example_id!r} in dataset {dataset!r}")
    changes = Changes(removals={example_id})
    return apply_changes(connection, project, dataset, changes, now).version
