"""The console's evaluation pages over HTTP on both stores: runs of a dataset, one run, and two
runs compared row by row."""

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LiveServer
from tests.console_evaluations.conftest import Runs, two_runs


@pytest.fixture(scope="module")
def runs(live_server: LiveServer) -> Runs:
    with live_server.client() as api:
        return two_runs(api, "http0001")


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


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _rows(html: str, table: str) -> dict[str, str]:
    """The text of each body row of table `table`, by its `data-*` key."""
    body = re.search(rf'<table [^>]*id="{table}".*?<tbody>(.*?)</tbody>', html, re.S)
    assert body is not None, table
    rows = re.findall(r'<tr data-\w+="([^"]+)"[^>]*>(.*?)</tr>', body.group(1), re.S)
    return {key: _text(row).strip() for key, row in rows}


def test_the_runs_of_a_dataset_newest_first(console: httpx.Client, runs: Runs) -> None:
    page = console.get("/evaluations", params={"dataset": runs.dataset})
    assert page.status_code == 200
    listed = _rows(page.text, "runs")
    assert list(listed) == [runs.fixed, runs.baseline]
    assert "finished 4/4 0" in listed[runs.fixed] and "acc 0.675 · 75.0%" in listed[runs.fixed]
    assert "finished 3/4 1" in listed[runs.baseline]
    assert f"/evaluations/{runs.fixed}/compare?baseline={runs.baseline}" in page.text
    assert f"<option selected>{runs.dataset}</option>" in page.text


def test_one_run_with_its_scores_rows_and_errors(console: httpx.Client, runs: Runs) -> None:
    page = console.get(f"/evaluations/{runs.baseline}")
    assert page.status_code == 200
    assert "3 done, 1 errors, 0 pending, of 4" in _text(page.text)
    assert re.search(r"acc\s*</th><td class=\"num\">0.6333</td><td class=\"num\">66.7%", page.text)
    rows = _rows(page.text, "results")
    assert rows["e2"].startswith("e2 done 0.2 ✗ fail")
    assert 'title="wrong year"' in page.text
    assert rows["e4"] == "e4 error task failed: &lt;timeout&gt;"  # escaped, shown as text
    errors = _rows(console.get(f"/evaluations/{runs.baseline}?status=error").text, "results")
    assert list(errors) == ["e4"]
    # each score links to its agreement with end users (scores are evaluator feedback)
    assert 'href="/agreement?evaluator=acc&amp;since="' in page.text
    # the compare form offers the other run of the dataset
    assert f'<option value="{runs.fixed}"' in page.text


def test_two_runs_row_by_row_with_changes_and_guardrails(console: httpx.Client, runs: Runs) -> None:
    url = f"/evaluations/{runs.fixed}/compare"
    page = console.get(url, params={"baseline": runs.baseline})
    assert page.status_code == 200
    summary = _text(re.search(r'id="summary".*?</table>', page.text, re.S).group(0))  # type: ignore[union-attr]
    assert "acc 1 1 1 1" in summary  # improved, regressed, unchanged, guardrails
    changed = _rows(page.text, "compare")
    assert list(changed) == ["e1", "e2"]  # the default shows rows that changed
    assert changed["e1"] == "e1 0.9 → 0.3 ▼ regressed"
    assert changed["e2"] == "e2 guardrail 0.2 → 0.9 ▲ improved ⚑ guardrail"
    everything = _rows(console.get(url, params={"baseline": runs.baseline, "show": "all"}).text,
                       "compare")  # fmt: skip
    assert everything["e3"] == "e3 0.8 → 0.8 = unchanged"
    assert everything["e4"] == "e4 – → 0.7 new"
    regressed = console.get(url, params={"baseline": runs.baseline, "show": "regressed"}).text
    assert list(_rows(regressed, "compare")) == ["e1"]
    assert "Changed (2)" in regressed and "Regressed (1)" in regressed
    assert "Guardrails (1)" in regressed and "All rows (4)" in regressed
    # each row links to the run's page starting at it
    assert f'href="/evaluations/{runs.fixed}?after=e1"' in page.text  # e2's link
    # Without a baseline: the dataset's newest other finished run.
    assert list(_rows(console.get(url).text, "compare")) == ["e1", "e2"]


def test_unknown_runs_and_baselines_are_a_404_page(
    console: httpx.Client, runs: Runs, live_server: LiveServer
) -> None:
    assert console.get("/evaluations/no-such-run").status_code == 404
    assert console.get("/evaluations/no-such-run/compare").status_code == 404
    compare = f"/evaluations/{runs.fixed}/compare"
    for baseline in (runs.fixed, "no-such-run"):
        answer = console.get(compare, params={"baseline": baseline})
        assert answer.status_code == 404 and "is not another run" in answer.text
    with live_server.client() as api:
        other = two_runs(api, "http0002")
    elsewhere = console.get(compare, params={"baseline": other.baseline})
    assert elsewhere.status_code == 404 and f"dataset {runs.dataset}" in elsewhere.text


def test_the_pages_need_a_session(live_server: LiveServer, runs: Runs) -> None:
    run = f"/evaluations/{runs.fixed}"
    for path in ("/evaluations", run, f"{run}/compare"):
        answer = httpx.get(f"{live_server.url}{path}", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
