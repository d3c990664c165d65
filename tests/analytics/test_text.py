"""The text form: what it accepts, and where and why it refuses."""

import pytest
from hypothesis import given, settings

from plaudit.core.query.model import Ago, Bucket, BucketUnit, MetricFn, Op, Per, QueryError
from plaudit.core.query.structured import from_structured
from plaudit.core.query.text import parse_filters, parse_query, to_text
from tests.analytics.test_properties import queries


def test_the_design_example() -> None:
    query = parse_query(
        'satisfaction, count by capability, day where name = "response-quality" since 7d'
    )
    assert [m.label for m in query.metrics] == ["satisfaction", "count"]
    assert query.group_by[1] == Bucket(BucketUnit.DAY)
    assert query.filters[0].op is Op.EQ and query.filters[0].value == "response-quality"
    assert isinstance(query.since, Ago) and query.since.delta.days == 7


def test_clauses_metrics_and_paths() -> None:
    query = parse_query(
        "p95(scores.relevance), avg, count_distinct(user_id) by span.gen_ai.request.model "
        'where metadata.plan in (\'pro\', "team") and comment contains "slow" and value < 3 '
        'per span tz "Europe/Paris" order by avg desc limit 5'
    )
    assert query.metrics[0].fn is MetricFn.P95 and query.metrics[0].label == "p95(scores.relevance)"
    assert query.group_by[0].name == "span.gen_ai.request.model"  # type: ignore[union-attr]
    assert query.filters[0].value == ("pro", "team")
    assert query.per is Per.SPAN and query.tz == "Europe/Paris" and query.limit == 5
    assert query.order is not None and query.order.descending


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("", 0, "expected a metric"),
        ("count by", 8, "expected a field name"),
        ("count wher", 6, "expected `,` or a clause"),
        ("avg(capability)", 0, "needs a number"),
        ("count by nope", 9, "unknown field `nope`"),
        ("count where name = ", 19, "expected a value"),
        ("count where name ~ 1", 17, "unexpected character"),
        ("count where name = 3", 12, "holds text"),
        ("count where metadata.a$b = 1", 22, "unexpected character"),
        ("count where metadata.a..b = 1", 12, "path segment"),
        ("count since yesterday", 12, "expected a time"),
        ("count per user", 10, "`span` or `event`"),
        ("count limit 0", 12, "limit must be"),
        ("count by day by name", 13, "appears twice"),
        ("count order by avg", 6, "no such column"),
        ('count tz "Mars/Olympus"', 9, "time zone"),
        ("count(", 6, "a field name"),
    ],
)
def test_errors_point_at_the_position(text: str, position: int, words: str) -> None:
    with pytest.raises(QueryError) as raised:
        parse_query(text)
    assert raised.value.position == position, raised.value
    assert words in raised.value.message


def test_trace_search_roots() -> None:
    found = parse_filters(
        'feedback.response-quality = -1 and span.gen_ai.request.model = "x"', ("feedback", "span")
    )
    assert found[0].field.path == ("response-quality",) and found[0].value == -1
    with pytest.raises(QueryError):
        parse_filters("feedback.response-quality = -1")


def test_structured_form_is_the_same_model() -> None:
    text = parse_query('satisfaction, count by capability, day where name = "rq" since 7d')
    structured = from_structured(
        {"metrics": ["satisfaction", "count"], "group_by": ["capability", "day"],
         "filters": [{"field": "name", "op": "=", "value": "rq"}], "since": "7d"}
    )  # fmt: skip
    assert structured == text
    with pytest.raises(QueryError) as raised:
        from_structured(
            {"metrics": ["count"], "filters": [{"field": "nope", "op": "=", "value": 1}]}
        )
    assert raised.value.pointer == "/filters/0/field"


@settings(max_examples=200)
@given(query=queries())
def test_text_form_round_trips(query: object) -> None:
    assert parse_query(to_text(query)) == query  # type: ignore[arg-type]
