"""URL query parameters as query-model filters: `GET /v1/feedback?value=-1&metadata.plan=pro`.

Every parameter that is not one of the listing's own (`limit`, `cursor`, `since`, `until`, `q`)
names a field of the query model and asks for equality with its value. Text fields compare as
text (`user_id=123` is the string "123"); the value and JSON paths take numbers and booleans as
such (`value=-1` is the number), and a quoted value as text (`value="-1"`), as the explorer's
`value` box does. `q` holds conditions in the `where` language of `POST /v1/query`. Parameters
naming no field are refused together, so a typo (`valeu=-1`) is never a silently ignored filter.
"""

import math
from collections.abc import Iterable
from typing import Final

from plaudit.core.query.fields import JSON_ROOTS, FieldError, FieldKind, parse_field
from plaudit.core.query.model import Filter, Op, QueryError, Scalar, check_filter
from plaudit.core.query.text import parse_filters

LISTING_PARAMS: Final = frozenset({"limit", "cursor", "since", "until", "q"})


class UnknownParameters(ValueError):
    """Parameters that name no field; `names` lists them in the order given."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


def literal(text: str) -> Scalar:
    """A typed value from a URL or form field: numbers and booleans as such, others as text."""
    if text in ("true", "false"):
        return text == "true"
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]  # quoted: text, even when it looks like a number
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return int(number) if number.is_integer() and "." not in text else number


def param_filter(name: str, text: str) -> Filter:
    """`name = text` as a filter; QueryError (pointing at `/name`) if the field cannot take it."""
    try:
        field = parse_field(name)
    except FieldError as error:
        raise QueryError(str(error), pointer=f"/{name}") from None
    value: Scalar = text if field.kind in (FieldKind.TEXT, FieldKind.TAGS) else literal(text)
    made = Filter(field, Op.EQ, value)
    if problem := check_filter(made):
        raise QueryError(problem, pointer=f"/{name}")
    return made


def listing_filters(params: Iterable[tuple[str, str]]) -> list[Filter]:
    """The filters of a listing's query string, in order; `q` adds its conditions.

    Raises UnknownParameters naming every parameter that is no field (checked first, so a typo is
    reported even beside other mistakes), or QueryError for the first that cannot apply.
    """
    items = list(params)
    unknown = [name for name, _ in items if name not in LISTING_PARAMS and not _is_field(name)]
    if unknown:
        raise UnknownParameters(list(dict.fromkeys(unknown)))
    found: list[Filter] = []
    for name, text in items:
        if name == "q":
            found += _where(text)
        elif name not in LISTING_PARAMS:
            found.append(param_filter(name, text))
    return found


def _is_field(name: str) -> bool:
    """Whether `name` means a field: a known one, or a path root with a bad or missing path
    (reported by `param_filter` with what is wrong with the path, not as unknown)."""
    if name.partition(".")[0] in JSON_ROOTS:
        return True
    try:
        parse_field(name)
    except FieldError:
        return False
    return True


def _where(text: str) -> list[Filter]:
    try:
        return parse_filters(text)
    except QueryError as error:
        raise QueryError(error.message, error.position, pointer="/q") from None
