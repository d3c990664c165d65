"""URL query parameters → query-model filters: every field, typed values, unknown names refused."""

import pytest

from plaudit.core.query.fields import Field
from plaudit.core.query.model import Filter, Op, QueryError
from plaudit.core.query.params import UnknownParameters, listing_filters, literal


def test_values_are_typed_unless_quoted() -> None:
    assert [literal(t) for t in ("-1", "0.5", "true", "up", '"-1"', "'3'", "nan", "1e3")] == [
        -1, 0.5, True, "up", "-1", "3", "nan", 1000.0,
    ]  # fmt: skip


def test_every_field_and_q_become_filters_in_order() -> None:
    params = [("limit", "5"), ("user_id", "123"), ("value", "-1"), ("metadata.plan", "pro"),
              ("tags", "esc"), ("q", "scores.relevance < 0.5")]  # fmt: skip
    assert listing_filters(params) == [
        Filter(Field("user_id"), Op.EQ, "123"),
        Filter(Field("value"), Op.EQ, -1),
        Filter(Field("metadata", ("plan",)), Op.EQ, "pro"),
        Filter(Field("tags"), Op.EQ, "esc"),
        Filter(Field("scores", ("relevance",)), Op.LT, 0.5),
    ]


def test_unknown_parameters_are_all_named() -> None:
    with pytest.raises(UnknownParameters) as raised:
        listing_filters([("valeu", "1"), ("value", "2"), ("nmae", "x"), ("valeu", "3")])
    assert raised.value.names == ["valeu", "nmae"]


@pytest.mark.parametrize(
    ("params", "pointer"),
    [([("implicit", "maybe")], "/implicit"), ([("metadata", "x")], "/metadata"),
     ([("scores.a b", "1")], "/scores.a b"), ([("q", "value =")], "/q")],
)  # fmt: skip
def test_unusable_parameters_point_at_themselves(
    params: list[tuple[str, str]], pointer: str
) -> None:
    with pytest.raises(QueryError) as raised:
        listing_filters(params)
    assert raised.value.pointer == pointer
