"""Every mistake a user can make on the command line, or environment the CLI cannot use, ends in
one line on stderr and its own exit code — never a traceback — and, with `--json`, a JSON error
on stdout too. Real subprocesses, a real busy port, a real PostgreSQL URL nobody answers on."""

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port

USAGE, DATABASE, PATH, PORT_BUSY, SERVER, REFUSED = 2, 3, 4, 5, 6, 1


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    code: int
    says: str  # a part of the one line
    json: bool = True  # the command takes --json
    env: tuple[tuple[str, str], ...] = ()
    stdin: str = ""


@dataclass(frozen=True)
class Places:
    good_db: str  # a migrated SQLite database with the `default` project
    a_file: Path  # a regular file: a path "inside" it cannot be made
    closed_port: int  # nothing listens there
    busy_port: int  # a real listening socket holds it


TWO_ITEMS_ONE_BAD = (
    json.dumps({"name": "ok", "value": 1, "trace_id": "a" * 32})
    + "\n"
    + json.dumps({"name": "", "value": 1})
)

CASES = [
    Case("malformed database URL", ("token", "list", "--database-url", "nonsense"), USAGE,
         "not a database URL"),
    Case("database other than SQLite or PostgreSQL", ("query", "count", "--database-url",
         "mysql://u@h/db"), USAGE, "SQLite or PostgreSQL"),
    Case("database URL from the environment", ("token", "list"), USAGE, "not a database URL",
         env=(("PLAUDIT_DATABASE_URL", "::"),)),
    Case("unreachable PostgreSQL", ("token", "list", "--database-url", "{pg_closed}"), DATABASE,
         "cannot reach the database"),
    Case("unreachable PostgreSQL, db upgrade", ("db", "upgrade", "--database-url", "{pg_closed}"),
         DATABASE, "Connection refused"),
    Case("unreachable PostgreSQL, serve", ("serve", "--port", "{free}", "--database-url",
         "{pg_closed}"), DATABASE, "cannot reach the database", json=False),
    Case("SQLite file where a folder cannot be made", ("token", "list", "--database-url",
         "sqlite:///{a_file}/sub/plaudit.db"), PATH, "not a folder"),
    Case("SQLite file where a folder cannot be made, serve", ("serve", "--port", "{free}",
         "--database-url", "sqlite:///{a_file}/sub/plaudit.db"), PATH, "not a folder",
         json=False),
    Case("export to a path that cannot be written", ("feedback", "export", "-o",
         "{a_file}/out.ndjson", "--database-url", "{good_db}"), PATH, "{a_file}", json=False),
    Case("port out of range", ("serve", "--port", "70000"), USAGE, "--port", json=False),
    Case("port out of range, from the environment", ("serve",), USAGE, "PLAUDIT_PORT",
         json=False, env=(("PLAUDIT_PORT", "0"),)),
    Case("busy port", ("serve", "--port", "{busy}", "--database-url", "{good_db}"), PORT_BUSY,
         "already in use", json=False),
    Case("busy port, demo", ("demo", "--port", "{busy}", "--database-url", "{good_db}"),
         PORT_BUSY, "already in use", json=False),
    Case("bad log level", ("serve", "--log-level", "loud"), USAGE, "--log-level", json=False),
    Case("bad log level, from the environment", ("serve",), USAGE, "PLAUDIT_LOG_LEVEL",
         json=False, env=(("PLAUDIT_LOG_LEVEL", "chatty"),)),
    Case("token without --scope", ("token", "create", "--database-url", "{good_db}"), USAGE,
         "--scope"),
    Case("unknown scope", ("token", "create", "--scope", "root", "--database-url", "{good_db}"),
         USAGE, "--scope"),
    Case("origin with a path", ("token", "create", "--scope", "feedback:write", "--origin",
         "https://app.example.com/", "--database-url", "{good_db}"), USAGE,
         "did you mean 'https://app.example.com'"),
    Case("origin without a scheme", ("token", "create", "--scope", "feedback:write", "--origin",
         "app.example.com", "--database-url", "{good_db}"), USAGE, "is not an origin"),
    Case("mistyped project, writing", ("token", "create", "--scope", "admin", "--project",
         "defualt", "--database-url", "{good_db}"), USAGE, "--create-project"),
    Case("mistyped project, reading", ("query", "count", "--project", "defualt",
         "--database-url", "{good_db}"), USAGE, "no project 'defualt'"),
    Case("mistyped project, sending feedback", ("feedback", "send", "--name", "x", "--value",
         "1", "--project", "defualt", "--database-url", "{good_db}"), USAGE, "--create-project"),
    Case("unknown option", ("feedback", "list", "--limt", "3"), USAGE, "No such option"),
    Case("unknown command", ("fedback",), USAGE, "No such command", json=False),
    Case("no feedback to send", ("feedback", "send", "--database-url", "{good_db}"), USAGE,
         "JSON feedback on stdin"),
    Case("stdin that is not JSON", ("feedback", "send", "--database-url", "{good_db}"), USAGE,
         "line 1 of stdin is not JSON", stdin="{nope\n"),
    Case("invalid feedback items", ("feedback", "send", "--database-url", "{good_db}"), REFUSED,
         "rejected item 2", stdin=TWO_ITEMS_ONE_BAD),
    Case("server not listening", ("query", "count", "--url", "http://127.0.0.1:{closed}",
         "--token", "sk_x"), SERVER, "cannot reach http://127.0.0.1:{closed}"),
    Case("--url and --database-url", ("dataset", "list", "--url", "http://127.0.0.1:{closed}",
         "--database-url", "{good_db}"), USAGE, "not both"),
    Case("--url without a token", ("feedback", "list", "--url", "http://127.0.0.1:{closed}"),
         USAGE, "PLAUDIT_TOKEN"),
    Case("--url that is not http", ("dataset", "list", "--url", "127.0.0.1:8000", "--token",
         "sk_x"), USAGE, "is not an http:// or https:// URL"),
]  # fmt: skip


def plaudit() -> list[str]:
    script = Path(sys.executable).with_name("plaudit")
    return [str(script)] if script.exists() else [sys.executable, "-m", "plaudit"]


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Places]:
    folder = tmp_path_factory.mktemp("cli-errors")
    a_file = folder / "a-file"
    a_file.write_text("not a folder")
    good = f"sqlite:///{folder / 'good.db'}"
    done = subprocess.run([*plaudit(), "db", "upgrade", "--database-url", good],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield Places(good, a_file, free_port(), busy.getsockname()[1])


def fill(text: str, places: Places) -> str:
    return text.format(
        good_db=places.good_db, a_file=places.a_file, closed=places.closed_port,
        busy=places.busy_port, free=free_port(),
        pg_closed=f"postgresql://postgres@127.0.0.1:{places.closed_port}/test",
    )  # fmt: skip


def run(case: Case, places: Places, *extra: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PLAUDIT_")}
    environ.update({k: fill(v, places) for k, v in case.env})
    environ["PLAUDIT_DATABASE_URL"] = environ.get("PLAUDIT_DATABASE_URL", places.good_db)
    return subprocess.run(
        [*plaudit(), *(fill(a, places) for a in case.args), *extra],
        input=case.stdin, env=environ, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_mistake_is_one_line_and_its_exit_code(case: Case, places: Places) -> None:
    done = run(case, places)
    assert done.returncode == case.code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    if case.code == REFUSED and case.stdin:  # each rejected item, then the summary on stdout
        assert all(line.startswith("rejected item ") for line in lines), done.stderr
        assert "1 created, 1 rejected" in done.stdout
    else:
        assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert fill(case.says, places) in done.stderr
    assert "Plaudit on http" not in done.stderr  # no banner before the failure
    assert "Chat demo on" not in done.stderr


# One case of each exit code (each subprocess costs a second or more on a busy machine).
JSON_CASES = [c for c in CASES if c.json and c.name in (
    "malformed database URL", "unreachable PostgreSQL", "SQLite file where a folder cannot be made",
    "token without --scope", "mistyped project, writing", "unknown option",
    "invalid feedback items", "server not listening",
)]  # fmt: skip


@pytest.mark.parametrize("case", JSON_CASES, ids=[c.name for c in JSON_CASES])
def test_with_json_the_error_is_json_too(case: Case, places: Places) -> None:
    done = run(case, places, "--json")
    assert done.returncode == case.code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    answer = json.loads(done.stdout)
    if case.code == REFUSED and case.stdin:  # the API's batch answer, rejections included
        assert [r["status"] for r in answer["results"]][1] == "rejected"
        assert answer["summary"]["rejected"] == 1
        assert answer["results"][1]["error"]["errors"][0]["pointer"] == "/1/name"
        return
    error = answer["error"]
    assert error["exit_code"] == case.code
    assert fill(case.says, places) in error["message"]
    assert "\n" not in error["message"]
