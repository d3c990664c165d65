"""docs/datasets.md and docs/queues.md work as written: their Python blocks run in order against a
real server, then their `plaudit` commands run on that server's database."""

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plaudit.cli import app
from tests.conftest import LiveServer, repo_root

DOCS = [repo_root() / "docs" / name for name in ("datasets.md", "queues.md")]
FENCE = re.compile(r"^```(?P<lang>[a-z]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
DOC_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def blocks(doc: Path, lang: str) -> list[str]:
    return [m["body"] for m in FENCE.finditer(doc.read_text()) if m["lang"] == lang]


def test_the_loop_docs_run_as_written(
    live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "docs_loop"}
    runner = CliRunner()
    for doc in DOCS:
        for number, block in enumerate(blocks(doc, "python")):
            code = block.replace("http://127.0.0.1:8000", live_server.url).replace(
                "sk_your_token", live_server.admin_token
            )
            try:
                exec(compile(code, f"{doc.name} block {number}", "exec"), namespace)
            except Exception as error:
                raise AssertionError(
                    f"{doc.name} python block {number} failed:\n{block}"
                ) from error
        commands = [line for b in blocks(doc, "bash") for line in b.splitlines() if line.strip()]
        assert commands, doc.name
        for line in commands:
            args = shlex.split(line.replace(DOC_TRACE, str(namespace["trace_id"])))
            assert args[0] == "plaudit", line
            result = runner.invoke(app, [*args[1:], "--database-url", live_server.database_url])
            assert result.exit_code == 0, (line, result.output)
    assert Path("escalations-v1.ndjson").read_text().count("\n") == 1
