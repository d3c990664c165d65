"""docs/agreement.md works as written: its Python block against a real server (both stores),
then its `plaudit` command on that server's database."""

import re
import shlex

from typer.testing import CliRunner

from plaudit.cli import app
from tests.conftest import LiveServer, repo_root

DOC = repo_root() / "docs" / "agreement.md"
FENCE = re.compile(r"^```(?P<lang>[a-z]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


def test_the_agreement_doc_runs_as_written(live_server: LiveServer) -> None:
    found = {m["lang"]: m["body"] for m in FENCE.finditer(DOC.read_text())}
    code = found["python"].replace("http://127.0.0.1:8000", live_server.url)
    code = code.replace("sk_your_token", live_server.admin_token)
    namespace: dict[str, object] = {"__name__": "docs_agreement"}
    exec(compile(code, "agreement.md", "exec"), namespace)
    assert namespace["item"] == {
        "capability": "support-agent", "n": 3, "agreement": 2 / 3, "kappa": 0.4,
        "pearson": namespace["item"]["pearson"],  # type: ignore[index]
        "confusion": {"tp": 1, "fp": 1, "fn": 0, "tn": 1},
    }  # fmt: skip
    assert round(namespace["item"]["pearson"], 3) == 0.596  # type: ignore[index]
    [command] = [line for line in found["bash"].splitlines() if line.strip()]
    args = shlex.split(command)
    result = CliRunner().invoke(app, [*args[1:], "--database-url", live_server.database_url])
    assert result.exit_code == 0, result.output
    assert "support-agent" in result.output and "0.667" in result.output
