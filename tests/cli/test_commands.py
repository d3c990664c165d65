"""`plaudit --version`, `db upgrade` saying what it applied, and `--create-project`."""

import json
from pathlib import Path

from typer.testing import CliRunner

from plaudit import __version__
from plaudit.cli import app
from plaudit.store.migrate import MIGRATIONS

runner = CliRunner()


def test_version() -> None:
    done = runner.invoke(app, ["--version"])
    assert done.exit_code == 0 and done.output == f"plaudit {__version__}\n"


def test_db_upgrade_says_which_revisions_it_applied(tmp_path: Path) -> None:
    url = ["--database-url", f"sqlite:///{tmp_path / 'fresh.db'}"]
    first = runner.invoke(app, ["db", "upgrade", *url, "--json"])
    assert first.exit_code == 0, first.output
    applied = json.loads(first.output)["applied"]
    files = sorted(p.name[:4] for p in (MIGRATIONS / "versions").glob("[0-9]*.py"))
    assert [a["revision"] for a in applied] == files
    assert all(a["description"] for a in applied)
    again = runner.invoke(app, ["db", "upgrade", *url])
    assert again.exit_code == 0
    assert "nothing to apply" in again.output and "applied" not in again.output


def test_create_project_makes_the_project_a_typo_would_not(tmp_path: Path) -> None:
    url = ["--database-url", f"sqlite:///{tmp_path / 'p.db'}"]
    refused = runner.invoke(app, ["token", "create", "-s", "read", "-p", "shop", *url])
    assert refused.exit_code == 2
    made = runner.invoke(
        app, ["token", "create", "-s", "read", "-p", "shop", "--create-project", "--json", *url]
    )
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["project"] == "shop"
    listed = runner.invoke(app, ["query", "count", "-p", "shop", "--json", *url])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output)["rows"] == [[0]]


def test_docs_list_every_exit_code() -> None:
    from plaudit.cli.problems import Exit
    from tests.conftest import repo_root

    page = (repo_root() / "docs" / "cli.md").read_text()
    assert [code for code in Exit if f"\n| {int(code)} | " not in page] == []
