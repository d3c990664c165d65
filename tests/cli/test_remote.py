"""Remote mode: `query`, `feedback` and `dataset` commands against a running server (`--url`,
`--token`, or PLAUDIT_URL/PLAUDIT_TOKEN) print what the same commands print on the database."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import LiveServer

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def plaudit(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("plaudit")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "plaudit"]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PLAUDIT_")}
    return subprocess.run([*command, *args], input=stdin, env={**environ, **(env or {})},
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stdout


def test_feedback_and_query_remote_match_local(live_server: LiveServer, unique: str) -> None:
    remote = ["--url", live_server.url, "--token", live_server.admin_token]
    name = f"remote-{unique}"
    items = [
        {"id": f"r1-{unique}", "name": name, "value": 1, "trace_id": TRACE},
        {"id": f"r2-{unique}", "name": name, "value": -1, "trace_id": TRACE, "comment": "bad"},
        {"id": f"r3-{unique}", "name": "", "value": 1},
    ]
    sent = plaudit("feedback", "send", *remote, "--json",
                   stdin="\n".join(json.dumps(i) for i in items))  # fmt: skip
    assert sent.returncode == 1, sent.stderr  # one item was rejected, the others stored
    answer = json.loads(sent.stdout)
    assert [r["status"] for r in answer["results"]] == ["created", "created", "rejected"]
    assert answer["results"][2]["error"]["errors"][0]["pointer"] == "/feedback/2/name"
    assert answer["summary"] == {"created": 2, "rejected": 1}

    where = ["--where", f'name = "{name}"']
    listed = json.loads(ok(plaudit("feedback", "list", *where, *remote, "--json")))
    local = ["--database-url", live_server.database_url]
    mirrored = json.loads(ok(plaudit("feedback", "list", *where, *local, "--json")))
    assert {e["id"] for e in listed["items"]} == {f"r1-{unique}", f"r2-{unique}"}
    assert listed == mirrored
    exported = ok(plaudit("feedback", "export", *where, *remote))
    assert sorted(json.loads(line)["id"] for line in exported.splitlines()) == [
        f"r1-{unique}", f"r2-{unique}"
    ]  # fmt: skip

    text = f'count, satisfaction where name = "{name}"'
    env = {"PLAUDIT_URL": live_server.url, "PLAUDIT_TOKEN": live_server.admin_token}
    by_env = json.loads(ok(plaudit("query", text, "--json", env=env)))
    assert by_env == json.loads(ok(plaudit("query", text, "--json", *local)))
    assert by_env["rows"][0][0] == 2
    table = ok(plaudit("query", text, env=env))
    assert "count" in table and "satisfaction" in table


def test_datasets_remote(live_server: LiveServer, unique: str, tmp_path: Path) -> None:
    remote = ["--url", live_server.url, "--token", live_server.admin_token]
    name = f"ds-{unique}"
    made = json.loads(ok(plaudit("dataset", "create", name, *remote, "--json")))
    assert made["name"] == name and made["version"] == 0
    examples = tmp_path / "examples.ndjson"
    examples.write_text('{"id": "a", "input": "hi"}\n{"id": "b", "input": "yo"}\n')
    added = json.loads(ok(plaudit("dataset", "import", name, str(examples), *remote, "--json")))
    assert added["version"] == 1 and [r["status"] for r in added["results"]] == ["created"] * 2
    listed = json.loads(ok(plaudit("dataset", "list", *remote, "--json")))
    assert {"name": name, "version": 1, "count": 2}.items() <= next(
        d for d in listed["items"] if d["name"] == name
    ).items()
    exported = ok(plaudit("dataset", "export", name, *remote))
    assert [json.loads(line)["id"] for line in exported.splitlines()] == ["a", "b"]
    again = plaudit("dataset", "create", name, *remote, "--json")
    assert again.returncode == 1
    problem = json.loads(again.stdout)["error"]["problem"]
    assert problem["status"] == 409 and name in problem["detail"]


def test_a_token_the_server_refuses(live_server: LiveServer) -> None:
    done = plaudit("query", "count", "--url", live_server.url, "--token", "sk_nope", "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"]["problem"]["status"] == 401
    assert done.stderr.startswith("error: the server refused (401)")
    assert len(done.stderr.strip().splitlines()) == 1
