"""Hostile explorer URLs: every parameter is refused with a message the page shows, in time that
grows linearly with its length — never an exception that becomes a 500, never a stalled loop."""

import contextlib
import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from plaudit.console import explorer
from plaudit.core.query.model import QueryError
from plaudit.core.query.text import parse_filters, parse_query, tokenize
from tests.console.conftest import ConsoleServer


@pytest.mark.parametrize(
    "params",
    [{"after": "99999999999999999999999.x"}, {"after": "-99999999999999999999999.abc"},
     {"after": "12.not an id!"}, {"since": "99999999999d"}, {"until": "99999999999w"},
     {"since": "9" * 400 + "d"}],
)  # fmt: skip
def test_out_of_range_parameters_are_a_shown_error(params: dict[str, str]) -> None:
    with pytest.raises(QueryError):
        explorer.selection(params)


@pytest.mark.parametrize(
    "text",
    ["count since 99999999999d", "count until 99999999999999999999m", "count since 3000000w"],
)
def test_huge_durations_are_a_query_error(text: str) -> None:
    with pytest.raises(QueryError, match="duration"):
        parse_query(text)


def _seconds(work: Callable[[str], object], text: str) -> float:
    began = time.perf_counter()
    with contextlib.suppress(QueryError):
        work(text)
    return time.perf_counter() - began


# Each shape made of the given characters, `n` long: runs of spaces between words are what made
# the explorer's value pattern backtrack (40,000 spaces took 4 s on the event loop).
SHAPES: dict[str, Callable[[int], str]] = {
    "spaces inside": lambda n: "x" + " " * n + "y",
    "spaces after an operator": lambda n: "<" + " " * n + "x" + " " * n + "y",
    "tabs and newlines": lambda n: "a" + "\t\n" * (n // 2) + "b",
    "spaces only": lambda n: " " * n,
}
PARSERS: dict[str, Callable[[str], object]] = {
    "explorer value": lambda text: explorer.selection({"value": text}),
    "explorer text": lambda text: explorer.selection({"text": text}),
    "explorer since": lambda text: explorer.selection({"since": text}),
    "where": lambda text: parse_filters("name = " + text),
    "tokenize": tokenize,
    "query": lambda text: parse_query("count where name = " + text),
}


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("shape", SHAPES)
def test_parsing_time_is_linear_in_the_input(parser: str, shape: str) -> None:
    """80,000 characters parse in well under a second (quadratic work took minutes), and about
    8x the time of 10,000 (quadratic: 64x); the bound leaves room for a busy machine."""
    work, make = PARSERS[parser], SHAPES[shape]
    small = min(_seconds(work, make(10_000)) for _ in range(3))
    large = min(_seconds(work, make(80_000)) for _ in range(3))
    assert large < 0.5, f"{large:.2f} s for 80,000 characters"
    assert large < 24 * small + 0.02, f"{small:.4f} s → {large:.4f} s"


@pytest.mark.parametrize(
    ("path", "shown"),
    [("/feedback?after=99999999999999999999999.x", "after"),
     ("/feedback?since=99999999999d", "duration"),
     ("/query?q=count%20since%2099999999999d", "duration")],
    ids=["huge after", "huge since", "huge query since"],
)  # fmt: skip
def test_the_pages_render_the_error_never_a_500(
    page: Page, console_server: ConsoleServer, path: str, shown: str
) -> None:
    response = page.goto(console_server.url + path)
    assert response is not None and response.status == 200
    expect(page.get_by_role("alert")).to_contain_text(shown)
