"""docs/quickstart.md works as written: its commands and Python blocks run against a real server."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import repo_root
from tests.e2e.test_durability import ServerProcess, _plaudit_command

QUICKSTART = repo_root() / "docs" / "quickstart.md"
FENCE = re.compile(r"^```(?P<lang>[a-z]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks(lang: str) -> list[str]:
    return [m["body"] for m in FENCE.finditer(QUICKSTART.read_text()) if m["lang"] == lang]


def expected_lines() -> list[re.Pattern[str]]:
    """The output the doc promises (untagged blocks); `...` stands for anything."""
    return [
        re.compile(".*".join(re.escape(part) for part in line.split("...")))
        for block in blocks("")
        for line in block.splitlines()
        if line.strip()
    ]


def test_the_quickstart_runs_as_written(database_url: str, tmp_path: Path) -> None:
    shell = "\n".join(blocks("bash"))
    assert "pip install -e clients/python -e ." in shell
    assert re.search(r"^plaudit serve$", shell, re.MULTILINE)
    (token_command,) = re.findall(r"\$\((plaudit token create [^)]*)\)", shell)
    assert token_command == "plaudit token create --project default --scope admin"

    # the doc's command, on this test's database instead of ./plaudit-data
    created = subprocess.run(
        [*_plaudit_command(), *shlex.split(token_command)[1:], "--database-url", database_url],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    token = created.stdout.strip()
    assert re.fullmatch(r"sk_\S+", token), created.stdout

    server = ServerProcess(database_url, tmp_path / "server.log")
    try:
        server.start()
        python = blocks("python")
        assert len(python) >= 3
        app = tmp_path / "quickstart_app.py"
        app.write_text("\n\n".join(python))
        env = {**os.environ, "PLAUDIT_URL": server.url, "PLAUDIT_TOKEN": token}
        ran = subprocess.run(
            [sys.executable, str(app)], env=env, cwd=tmp_path,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        printed = ran.stdout.splitlines()

        promised = expected_lines()
        assert len(promised) >= 4
        for pattern in promised:
            assert any(pattern.fullmatch(line) for line in printed), (pattern.pattern, printed)

        found = re.search(r"^trace ([0-9a-f]{32}) span ([0-9a-f]{16})$", ran.stdout, re.MULTILINE)
        assert found, ran.stdout
        trace_id, span_id = found.groups()

        # what the doc says happened, checked independently of the doc's own prints
        with httpx.Client(
            base_url=server.url, headers={"authorization": f"Bearer {token}"}, timeout=10
        ) as api:
            tree = api.get(f"/v1/traces/{trace_id}").json()
            (span,) = tree["spans"]
            assert span["span_id"] == span_id
            assert span["resource"]["service.name"] == "quickstart-app"
            assert (span["capability"], span["step"]) == ("support-agent", "respond")
            (event,) = span["feedback"]
            assert event["name"] == "response-quality" and event["kind"] == "thumb"
            assert event["value"] == 1 and event["link_status"] == "linked"
            assert (event["capability"], event["step"]) == ("support-agent", "respond")
            assert event["user_id"] == "user-42" and event["source"] == "end_user"
            listed = api.get("/v1/feedback", params={"trace_id": trace_id}).json()["items"]
            assert [e["id"] for e in listed] == [event["id"]]
            assert listed[0]["span_id"] == span_id
    finally:
        server.kill()
