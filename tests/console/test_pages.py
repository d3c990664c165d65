"""Page contracts: every template renders from its typed context, and escapes what users wrote."""

from datetime import UTC, datetime

import pytest

from plaudit.console import explorer
from plaudit.console.pages import (
    ApiDocsPage,
    ApiOperation,
    ApiParameter,
    CapabilityRow,
    Chart,
    Chrome,
    ConfigRow,
    ErrorPage,
    EventDetail,
    EventRow,
    ExplorerPage,
    LoginPage,
    Message,
    OverviewPage,
    QueryError,
    QueryPage,
    SettingsPage,
    SpanFeedback,
    SpanRow,
    TokenRow,
    TracePage,
)
from plaudit.console.render import render
from plaudit.console.time_range import picker
from plaudit.console.trace_pages import (
    ConversationPage,
    ConversationTrace,
    FeedbackSummary,
    SortChoice,
    TraceLine,
    TracesPage,
    UserConversation,
    UserEvent,
    UserPage,
)
from plaudit.core.query.model import Op
from plaudit.core.query.model import QueryError as ModelQueryError

EVIL = "<script>alert(1)</script>"
CHROME = Chrome(title=EVIL, nav="overview", csrf="c" * 40, project=EVIL)
CHART = Chart("c", EVIL, "line", [1.0, 2.0], [(EVIL, [0.5, None])], percent=True)
DETAIL = EventDetail(
    id="e1", fields=[("name", EVIL)], comment=EVIL, correction=EVIL, expected=EVIL, value="1",
    metadata=EVIL, scores=None, tags=[EVIL], history=[("t", "revised", EVIL)], trace_id="a" * 32,
    span_id="b" * 16,
)  # fmt: skip
ROW = EventRow("e1", "t", EVIL, EVIL, "text", EVIL, EVIL, EVIL, "end_user", EVIL, "a" * 32, None)
FEEDBACK = SpanFeedback("e1", EVIL, EVIL, EVIL, EVIL)
SPAN = SpanRow("b" * 16, EVIL, 0, 0.0, 100.0, 1.5, "OK", EVIL, EVIL, [(EVIL, EVIL)],
               [Message(EVIL, EVIL)], [Message("assistant", EVIL)], [FEEDBACK], True)  # fmt: skip
CAPABILITY = CapabilityRow(EVIL, 3, 1, 1, 0.5, 0.75)
PICKER = picker("/traces", {"q": EVIL}, EVIL, EVIL)
LINE = TraceLine("a" * 32, "t", EVIL, EVIL, 1.5, "error", 1, FeedbackSummary(1, 0, 1, [FEEDBACK]),
                 EVIL, EVIL, EVIL)  # fmt: skip

PAGES = {
    "login.html": LoginPage(next=EVIL, csrf="x", error=EVIL, password_enabled=True),
    "overview.html": OverviewPage(
        "7d", ("7d",), [CAPABILITY], [CAPABILITY], CHART, CHART, 3, picker=PICKER, error=EVIL
    ),
    "traces.html": TracesPage(
        EVIL,
        "time",
        [SortChoice("time", "Newest", "/traces?x", True)],
        [LINE],
        "/n",
        "/p",
        PICKER,
        (EVIL,),
        EVIL,
        EVIL,
    ),
    "conversation.html": ConversationPage(
        EVIL, [ConversationTrace(LINE, [FEEDBACK])], [FEEDBACK], [EVIL], True
    ),
    "user.html": UserPage(
        EVIL,
        [UserConversation(EVIL, 2, "t")],
        [UserEvent("t", FEEDBACK, EVIL, "a" * 32, "/f")],
        PICKER,
        "/feedback?user=x",
        1,
        1,
        [EVIL],
    ),
    "feedback.html": ExplorerPage(
        filters={k: EVIL for k in (*explorer.PARAMS, "after", "event")},
        capabilities=[EVIL],
        kinds=("text",),
        sources=("end_user",),
        rows=[ROW],
        next_url="/feedback?after=1.x",
        detail=DETAIL,
        error=EVIL,
        picker=PICKER,
        export_query="user=x",
    ),
    "trace.html": TracePage("a" * 32, 1.5, [SPAN], [FEEDBACK], EVIL, ["a" * 32, "c" * 32], None),
    "query.html": QueryPage(
        EVIL, (EVIL,), [("capability", "string")], [[EVIL]], CHART, QueryError(EVIL, "", ""), 1.0
    ),
    "settings.html": SettingsPage(
        tokens=[TokenRow("t1", EVIL, "read", EVIL, "now", False)],
        configs=[ConfigRow(EVIL, "enum", EVIL, "", EVIL)],
        server_origins=[EVIL],
        scopes=("read",),
        kinds=("enum",),
        created_secret="sk_x",
        message=EVIL,
        error=EVIL,
    ),
    "error.html": ErrorPage(404, EVIL),
    "api_docs.html": ApiDocsPage(
        EVIL,
        EVIL,
        EVIL,
        [
            (
                EVIL,
                [
                    ApiOperation(
                        "get",
                        EVIL,
                        EVIL,
                        EVIL,
                        [ApiParameter(EVIL, "query", True, EVIL)],
                        EVIL,
                        [("200", EVIL)],
                    )
                ],
            )
        ],
    ),
}


@pytest.mark.parametrize("template", sorted(PAGES))
def test_each_page_renders_from_its_context_and_escapes(template: str) -> None:
    html = render(template, chrome=CHROME, page=PAGES[template], focus="")
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_chart_data_cannot_close_its_script_block() -> None:
    html = render("overview.html", chrome=CHROME, page=PAGES["overview.html"], focus="")
    blocks = html.split('<script type="application/json" class="chart-data">')[1:]
    assert len(blocks) == 2
    for block in blocks:
        data = block.split("</script>")[0]
        assert "<" not in data and "\\u003cscript\\u003e" in data


def test_partials_render_alone() -> None:
    assert "&lt;script&gt;" in render("_detail.html", detail=DETAIL, error=None)
    assert "position" in render("_query_result.html", page=PAGES["query.html"])
    for focus in ("tokens", "configs", "privacy"):
        html = render(f"_{focus}.html", chrome=CHROME, page=PAGES["settings.html"], focus=focus)
        assert f'id="{focus}-section"' in html


def test_explorer_parameters_become_query_model_filters() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    chosen = explorer.selection(
        {"capability": "search", "value": "<=2", "text": "slow", "tag": "x", "since": "7d",
         "after": "123.abc"}, now,
    )  # fmt: skip
    described = [(f.field.name, f.op, f.value) for f in chosen.filters]
    assert described == [
        ("capability", Op.EQ, "search"), ("tags", Op.EQ, "x"), ("value", Op.LE, 2),
        ("comment", Op.CONTAINS, "slow"),
    ]  # fmt: skip
    assert chosen.window.since is not None and chosen.after == (123, "abc")
    assert explorer.selection({"value": "hallucination"}).filters[0].value == "hallucination"
    assert explorer.selection({"value": '"-1"'}).filters[0].value == "-1"
    with pytest.raises(ModelQueryError):
        explorer.selection({"since": "yesterday"})
