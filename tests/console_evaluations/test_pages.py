"""Contracts of the evaluation pages' templates: each renders from its typed context and escapes
what users and evaluators wrote."""

import pytest

from plaudit.console.evaluation_pages import (
    ChangeCell,
    ChangeSummary,
    CompareLine,
    ComparePage,
    EvaluationsPage,
    ResultLine,
    RunPage,
    RunRow,
    ScoreCell,
    ScoreSummary,
)
from plaudit.console.pages import Chrome
from plaudit.console.render import render

EVIL = "<script>alert(1)</script>"
CHROME = Chrome(title=EVIL, nav="evaluations", csrf="c" * 40, project=EVIL)
RUN = RunRow(EVIL, EVIL, EVIL, 2, EVIL, EVIL, EVIL, EVIL, 4, 3, 1,
             [ScoreSummary(EVIL, 0.5, 0.75)], EVIL)  # fmt: skip
LINE = ResultLine(EVIL, EVIL, EVIL, EVIL, "a" * 32, "b" * 16, [ScoreCell(EVIL, EVIL, False, EVIL)])
CELL = ChangeCell(EVIL, EVIL, EVIL, "regressed", True)

PAGES = {
    "evaluations.html": EvaluationsPage([EVIL], EVIL, [RUN], "?after=x"),
    "evaluation.html": RunPage(
        RUN, [EVIL], [LINE], EVIL, ("", "done"), [(EVIL, EVIL)], EVIL, "?after=y"
    ),
    "evaluation_compare.html": ComparePage(
        RUN,
        RUN,
        [ChangeSummary(EVIL, 1, 2, 3, 4)],
        [EVIL],
        [CompareLine(EVIL, [CELL], True, True, False, EVIL)],
        "changed",
        (("changed", EVIL, 1),),
        600,
        500,
    ),
}


@pytest.mark.parametrize("template", sorted(PAGES))
def test_each_page_renders_from_its_context_and_escapes(template: str) -> None:
    html = render(template, chrome=CHROME, page=PAGES[template])
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_long_comparison_says_it_lists_the_first_rows() -> None:
    html = render("evaluation_compare.html", chrome=CHROME, page=PAGES["evaluation_compare.html"])
    assert 'id="truncated"' in html and "The first 500 of 600 rows" in html
