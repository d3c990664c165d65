"""`plaudit query`, `plaudit feedback send|list|export` as a user runs them, in a subprocess."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest


def plaudit(database_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "plaudit", *args, "--database-url", database_url]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def loaded(database_url: str) -> str:
    lines = "\n".join(
        json.dumps({"id": f"c{i}", "name": "rq", "value": "up" if i % 3 else "down",
                    "trace_id": f"{i + 1:032x}", "capability": ["a", "b"][i % 2],
                    "timestamp": f"2026-03-{i % 28 + 1:02d}T10:00:00Z", "comment": "x, \"y\""})
        for i in range(1200)
    )  # fmt: skip
    sent = plaudit(
        database_url,
        "feedback",
        "send",
        "--project",
        "cli",
        "--create-project",
        "--json",
        stdin=lines,
    )
    assert sent.returncode == 0, sent.stderr
    assert len(json.loads(sent.stdout)["results"]) == 1200
    return database_url


def test_query_table_json_and_csv(loaded: str) -> None:
    text = 'satisfaction, count by capability where name = "rq"'
    table = plaudit(loaded, "query", text, "--project", "cli")
    assert table.returncode == 0, table.stderr
    assert "capability" in table.stdout and "600" in table.stdout
    answer = json.loads(plaudit(loaded, "query", text, "--project", "cli", "--json").stdout)
    assert answer["rows"] == [["a", 2 / 3, 600], ["b", 2 / 3, 600]]
    rows = list(
        csv.reader(io.StringIO(plaudit(loaded, "query", text, "-p", "cli", "--csv").stdout))
    )
    assert rows[0] == ["capability", "satisfaction", "count"] and len(rows) == 3


def test_query_error_points_at_the_position(loaded: str) -> None:
    bad = plaudit(loaded, "query", "count by capabilty")
    assert bad.returncode == 1
    assert "^" in bad.stderr and "unknown field `capabilty`" in bad.stderr


def test_feedback_list_and_export(loaded: str, tmp_path: Path) -> None:
    listed = plaudit(loaded, "feedback", "list", "-p", "cli", "--limit", "3", "--json")
    assert [event["timestamp"][:10] for event in json.loads(listed.stdout)["items"]] == [
        "2026-03-28", "2026-03-28", "2026-03-28"
    ]  # fmt: skip
    everything = plaudit(
        loaded, "feedback", "list", "-p", "cli", "--limit", "0", "--where", 'capability = "a"'
    )
    assert len(everything.stdout.splitlines()) == 600
    ndjson = plaudit(loaded, "feedback", "export", "-p", "cli", "--format", "ndjson")
    assert ndjson.returncode == 0, ndjson.stderr
    assert len({json.loads(line)["id"] for line in ndjson.stdout.splitlines()}) == 1200
    target = tmp_path / "out.csv"
    exported = plaudit(loaded, "feedback", "export", "-p", "cli", "-f", "csv", "-o", str(target),
                       "--where", 'value = "down"')  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(target.open()))
    assert len(rows) == 400 and rows[0]["comment"] == 'x, "y"'
    otel = plaudit(loaded, "feedback", "export", "-p", "cli", "-f", "otel", "--since", "2026-03-28")
    events = [json.loads(line) for line in otel.stdout.splitlines()]
    assert events and events[0]["event_name"] == "gen_ai.evaluation.result"
    assert events[0]["attributes"]["gen_ai.evaluation.name"] == "rq"
    assert events[0]["attributes"]["gen_ai.evaluation.score.label"] in ("up", "down")
