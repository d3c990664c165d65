"""Contracts of the loop's console templates: each renders from its typed context and escapes
what users wrote; the review form's keys and answers."""

import pytest

from plaudit.console.loop_pages import (
    Choice,
    DatasetPage,
    DatasetRow,
    DatasetsPage,
    DiffRow,
    DoneRow,
    ExampleRow,
    GivenFeedback,
    Question,
    QueueRow,
    QueuesPage,
    ReviewItem,
    ReviewPage,
    VersionRow,
)
from plaudit.console.pages import Chrome, Message
from plaudit.console.render import render
from plaudit.console.review import answers_from_form, questions
from plaudit.core.configs import FeedbackConfig
from plaudit.core.feedback import Kind

EVIL = "<script>alert(1)</script>"
CHROME = Chrome(title=EVIL, nav="datasets", csrf="c" * 40, project=EVIL)
EXAMPLE = ExampleRow(EVIL, EVIL, EVIL, EVIL, EVIL, "filled", "a" * 32)
GIVEN = GivenFeedback(EVIL, EVIL, EVIL, "end_user", EVIL)
ITEM = ReviewItem("i1", "a" * 32, "b" * 16, EVIL, EVIL, [Message(EVIL, EVIL)],
                  [Message("assistant", EVIL)], [GIVEN])  # fmt: skip
QUESTIONS = [
    Question(EVIL, "enum", EVIL, [Choice("1", EVIL, EVIL)]),
    Question("fix", "correction", ""),
]

PAGES = {
    "datasets.html": DatasetsPage([DatasetRow(EVIL, EVIL, 2, 3, "now")], EVIL),
    "dataset.html": DatasetPage(
        EVIL,
        EVIL,
        2,
        1,
        [VersionRow(1, "now", 1, 0, 0)],
        [EXAMPLE],
        "?after=x",
        0,
        1,
        [DiffRow(EVIL, "changed", EVIL, EVIL)],
        EVIL,
    ),
    "queues.html": QueuesPage([QueueRow(EVIL, EVIL, EVIL, 1, 2)]),
    "review.html": ReviewPage(
        EVIL, EVIL, 1, 3, ITEM, QUESTIONS, EVIL, [DoneRow(EVIL, EVIL, "t")], EVIL
    ),
}


@pytest.mark.parametrize("template", sorted(PAGES))
def test_each_page_renders_from_its_context_and_escapes(template: str) -> None:
    html = render(template, chrome=CHROME, page=PAGES[template])
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_an_empty_queue_says_so() -> None:
    done = ReviewPage("q", "", 3, 3, None, [], "", [])
    assert 'id="queue-done"' in render("review.html", chrome=CHROME, page=done)


def test_choices_are_numbered_across_questions_and_read_back_typed() -> None:
    configs = {
        "thumb": FeedbackConfig("thumb", Kind.THUMB),
        "stars": FeedbackConfig("stars", Kind.NUMBER, min=1, max=5),
        "fix": FeedbackConfig("fix", Kind.CORRECTION),
    }
    asked = questions(["thumb", "stars", "fix"], configs)
    assert [c.key for q in asked for c in q.choices] == [str(k) for k in range(1, 8)]
    assert asked[2].choices == []
    fields = {"answer:thumb": "-1", "answer:stars": "4", "answer:fix": " Better ", "comment": "x"}
    answers = answers_from_form(["thumb", "stars", "fix"], configs, fields)
    assert [(a.name, a.value, a.comment) for a in answers] == [
        ("thumb", -1, "x"), ("stars", 4.0, None), ("fix", "Better", None),
    ]  # fmt: skip
    assert answers_from_form(["thumb"], configs, {"answer:thumb": ""}) == []
