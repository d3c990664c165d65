"""docs/evaluations.md works as written: its Python blocks run in order against a real server
(the judge model replaced by the fake one), its module file is written where the commands run,
then its `plaudit` commands run against that server."""

import re
import shlex
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plaudit.cli import app
from tests.conftest import LiveServer, repo_root
from tests.evals.conftest import FakeJudge

DOC = repo_root() / "docs" / "evaluations.md"
FENCE = re.compile(r"^```(?P<lang>[a-z]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
MODULE = re.compile(r"^# (?P<name>\w+\.py)\n")


def blocks(lang: str) -> list[str]:
    return [m["body"] for m in FENCE.finditer(DOC.read_text()) if m["lang"] == lang]


def test_the_evaluations_doc_runs_as_written(
    live_server: LiveServer, judge: FakeJudge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace: dict[str, object] = {"__name__": "docs_evaluations"}
    modules = []
    for number, block in enumerate(blocks("python")):
        if found := MODULE.match(block):  # a file the commands import
            (tmp_path / found["name"]).write_text(block)
            modules.append(found["name"].removesuffix(".py"))
            continue
        code = (
            block.replace("http://127.0.0.1:8000", live_server.url)
            .replace("sk_your_token", live_server.admin_token)
            .replace("http://127.0.0.1:11434/v1", judge.url)
        )
        try:
            exec(compile(code, f"evaluations.md block {number}", "exec"), namespace)
        except Exception as error:
            raise AssertionError(
                f"evaluations.md python block {number} failed:\n{block}"
            ) from error
    assert judge.calls["json"] == 3  # the judge scored every row
    commands = [line for b in blocks("bash") for line in b.splitlines() if line.strip()]
    assert commands and modules
    environment = {"PLAUDIT_URL": live_server.url, "PLAUDIT_TOKEN": live_server.admin_token}
    for line in commands:
        args = shlex.split(line)
        assert args[0] == "plaudit", line
        result = CliRunner().invoke(app, args[1:], env=environment)
        assert result.exit_code == 0, (line, result.output)
        assert "3 scored, 0 with errors, of 3" in result.output
    for module in modules:
        monkeypatch.delitem(sys.modules, module, raising=False)
