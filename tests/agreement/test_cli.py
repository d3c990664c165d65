"""`plaudit agreement` on the database (both stores) and through a server's API."""

import json

import pytest
from typer.testing import CliRunner

from plaudit.cli import app
from tests.agreement.test_api import hand_example
from tests.conftest import LiveServer

runner = CliRunner()


@pytest.fixture(scope="module")
def names(live_server: LiveServer) -> tuple[str, str]:
    with live_server.client() as api:
        return hand_example(api, "c11c0de0")


def test_on_the_database_it_prints_the_figures_per_capability(
    live_server: LiveServer, names: tuple[str, str]
) -> None:
    user, judge = names
    args = ["agreement", "--user", user, "--evaluator", judge, "--by", "capability",
            "--database-url", live_server.database_url]  # fmt: skip
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    line = next(line for line in table.output.splitlines() if "search" in line)
    # capability, spans, agreement, kappa, pearson, tp, fp, fn, tn (worked out in test_api.py)
    cells = [cell for cell in line.split() if cell != "│"]
    assert cells == ["search", "5", "0.600", "0.167", "-0.084", "2", "1", "1", "1"]
    answer = json.loads(runner.invoke(app, [*args, "--json"]).output)
    assert [i["capability"] for i in answer["items"]] == ["search", "summarize"]
    assert answer["items"][1]["confusion"] == {"tp": 1, "fp": 0, "fn": 0, "tn": 1}


def test_through_the_api_with_url_and_token(
    live_server: LiveServer, names: tuple[str, str]
) -> None:
    user, judge = names
    args = ["agreement", "--user", user, "--evaluator", judge, "--url", live_server.url,
            "--token", live_server.admin_token, "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.output)["items"]
    assert item["capability"] is None and item["n"] == 7
    refused = runner.invoke(app, [*args[:-3], "--token", live_server.browser_token])
    assert refused.exit_code == 1 and "403" in refused.output


def test_bad_options_exit_2_naming_them() -> None:
    result = runner.invoke(app, ["agreement", "--user", "q", "--evaluator", "j", "--by", "day"])
    assert result.exit_code == 2 and "--by" in result.output
