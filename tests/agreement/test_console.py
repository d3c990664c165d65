"""The console's /agreement page: its template contract, and over HTTP on both stores."""

import re
from collections.abc import Iterator

import httpx
import pytest

from plaudit.console.evaluation_pages import AgreementPage, AgreementRow
from plaudit.console.pages import Chrome
from plaudit.console.render import render
from tests.agreement.test_api import hand_example
from tests.conftest import LiveServer

EVIL = "<script>alert(1)</script>"


def test_the_page_renders_from_its_context_and_escapes() -> None:
    row = AgreementRow(EVIL, 3, 0.5, None, -0.25, 1, 1, 0, 1)
    context = AgreementPage(EVIL, EVIL, EVIL, [EVIL], [EVIL], (("", EVIL),), row, [row], EVIL)
    html = render("agreement.html", chrome=Chrome(EVIL, "agreement"), page=context)
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    empty = AgreementPage("q", "j", "", ["q"], ["j"], (("", "All time"),), None, [])
    assert 'id="no-agreement"' in render("agreement.html", chrome=Chrome("A", "x"), page=empty)


@pytest.fixture(scope="module")
def names(live_server: LiveServer) -> tuple[str, str]:
    with live_server.client() as api:
        return hand_example(api, "c0501e00")


@pytest.fixture
def console(live_server: LiveServer) -> Iterator[httpx.Client]:
    """A client signed in to the console with the admin token."""
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        form = client.get("/login").text
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form)
        assert csrf is not None
        fields = {"secret": live_server.admin_token, "next": "/", "csrf": csrf.group(1)}
        assert client.post("/login", data=fields).status_code == 303
        yield client


def _cells(html: str, row_start: str) -> list[str]:
    """The text of each cell in the table row whose header cell starts with `row_start`."""
    row = re.search(rf"<tr><th scope=\"row\">(?:<a [^>]*>)?{row_start}.*?</tr>", html, re.S)
    assert row is not None, f"no row {row_start}"
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row.group(0), re.S)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]


def test_the_figures_per_capability_and_the_confusion_matrix(
    console: httpx.Client, names: tuple[str, str]
) -> None:
    user, judge = names
    page = console.get("/agreement", params={"user": user, "evaluator": judge, "since": ""})
    assert page.status_code == 200
    html = page.text
    # the hand-computed example of test_api.py
    assert _cells(html, "search") == ["search", "5", "0.600", "0.167", "-0.084", "2", "1", "1", "1"]
    assert _cells(html, "summarize")[1:5] == ["2", "1.000", "1.000", "–"]
    assert _cells(html, "All spans")[1:] == ["7", "0.714", "0.417", "0.356", "3", "1", "1", "2"]
    assert _cells(html, "Evaluator passes") == ["Evaluator passes", "3 tp", "1 fp"]
    assert _cells(html, "Evaluator fails") == ["Evaluator fails", "1 fn", "2 tn"]
    # the names users and evaluators gave are offered in the form
    assert f"<option selected>{user}</option>" in html
    assert f"<option selected>{judge}</option>" in html


def test_a_range_without_spans_and_a_bad_range_say_so(
    console: httpx.Client, names: tuple[str, str]
) -> None:
    user, judge = names
    # The page opens on the last 30 days; the example's events are older.
    recent = console.get("/agreement", params={"user": user, "evaluator": judge})
    assert recent.status_code == 200 and 'id="no-agreement"' in recent.text
    assert '<option value="30d" selected>30 days</option>' in recent.text
    bad = console.get("/agreement", params={"user": user, "evaluator": judge, "since": "soon"})
    assert bad.status_code == 200
    assert re.search(r'role="alert">since: a time', bad.text)


def test_the_page_needs_a_session(live_server: LiveServer) -> None:
    answer = httpx.get(f"{live_server.url}/agreement", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
