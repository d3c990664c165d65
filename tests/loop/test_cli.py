"""`plaudit dataset …` and `plaudit queue …` on a real SQLite database."""

import json
from pathlib import Path

from typer.testing import CliRunner

from plaudit.cli import app

runner = CliRunner()
TRACE, SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def cli(url: str, *args: str, stdin: str | None = None) -> str:
    result = runner.invoke(app, [*args, "--database-url", url], input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def test_dataset_create_add_export_import(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    made = json.loads(cli(url, "dataset", "create", "bad-answers", "--json"))
    assert made["version"] == 0
    again = runner.invoke(app, ["dataset", "create", "bad-answers", "--database-url", url])
    assert again.exit_code == 1 and "already exists" in again.output

    cli(url, "feedback", "send", "--name", "thumbs", "--value", '"down"',
        "--trace-id", TRACE, "--span-id", SPAN, "--comment", "wrong")  # fmt: skip
    added = json.loads(
        cli(
            url,
            "dataset",
            "add",
            "bad-answers",
            "--where",
            "value = -1",
            "--map",
            "metadata.why=feedback.comment",
            "--json",
        )
    )
    assert added["version"] == 1 and added["results"][0]["id"] == f"{TRACE}-{SPAN}"
    rerun = json.loads(cli(url, "dataset", "add", "bad-answers", "--where", "value = -1", "--json"))
    assert rerun["version"] == 1 and rerun["results"][0]["status"] == "duplicate"

    exported = cli(url, "dataset", "export", "bad-answers")
    row = json.loads(exported.splitlines()[0])
    assert row["metadata"]["why"] == "wrong" and row["source"]["span_id"] == SPAN
    as_csv = cli(url, "dataset", "export", "bad-answers", "--csv", "--version", "1")
    assert as_csv.splitlines()[0] == "id,input,output,expected,metadata,source,annotation_status"

    dump = tmp_path / "examples.ndjson"
    dump.write_text(exported + '{"id": "extra", "input": "hi"}\n')
    cli(url, "dataset", "create", "copy")
    imported = json.loads(cli(url, "dataset", "import", "copy", str(dump), "--json"))
    assert [r["status"] for r in imported["results"]] == ["created", "created"]
    listed = json.loads(cli(url, "dataset", "list", "--json"))["items"]
    assert [(d["name"], d["version"], d["count"]) for d in listed] == [
        ("bad-answers", 1, 1), ("copy", 1, 2),
    ]  # fmt: skip
    assert "copy  v1  2 examples" in cli(url, "dataset", "list")


def test_queue_create_fill_add_and_items(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    refused = runner.invoke(app, ["queue", "create", "review", "--ask", "verdict",
                                  "--database-url", url])  # fmt: skip
    assert refused.exit_code == 1 and "no feedback config" in refused.output
    from plaudit.core.configs import FeedbackConfig
    from plaudit.core.feedback import Kind
    from plaudit.store.configs import put_config
    from plaudit.store.database import create_database_engine

    engine = create_database_engine(url)
    with engine.begin() as connection:
        put_config(connection, "default", FeedbackConfig("verdict", Kind.THUMB))
    engine.dispose()
    cli(url, "feedback", "send", "--name", "thumbs", "--value", '"down"',
        "--trace-id", TRACE, "--span-id", SPAN)  # fmt: skip
    made = json.loads(
        cli(url, "queue", "create", "review", "--ask", "verdict", "--fill", "value = -1", "--json")
    )
    assert made["counts"] == {"pending": 1, "done": 0}
    other = "a" * 32
    assert cli(url, "queue", "add", "review", "--trace", other).startswith("created")
    assert cli(url, "queue", "add", "review", "--trace", other).startswith("duplicate")
    items = json.loads(cli(url, "queue", "items", "review", "--json"))["items"]
    assert sorted(i["id"] for i in items) == sorted([f"{TRACE}-{SPAN}", other])
    assert "review  0/2 done" in cli(url, "queue", "list")
