"""`plaudit key create|list|revoke`, working directly on the database."""

import json
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from plaudit.cli.key import app
from plaudit.core.feedback_tokens import SigningKey, mint, new_claims, parse_signing_key, verify
from plaudit.store.database import create_database_engine
from plaudit.store.signing_keys import live_signing_key

runner = CliRunner()


def test_create_prints_the_key_once_then_list_and_revoke(tmp_path: Path) -> None:
    url = ["--database-url", f"sqlite:///{tmp_path / 'cli.db'}"]
    created = runner.invoke(
        app, ["create", "--project", "shop", "--create-project", "--name", "web", "--json", *url]
    )
    assert created.exit_code == 0, created.output
    made = json.loads(created.output)
    key_id, secret = parse_signing_key(made["key"])
    assert key_id == made["id"] and made["project"] == "shop"

    engine = create_database_engine(url[1])
    with engine.connect() as connection:
        stored = live_signing_key(connection, key_id)
    assert stored == SigningKey(key_id, secret, "shop")
    token = mint(key_id, secret, new_claims("shop", "a" * 32, "b" * 16))
    assert verify(token, {key_id: stored}.get, datetime.now(UTC)).span_id == "b" * 16

    listed = runner.invoke(app, ["list", "--json", *url])
    assert [k["id"] for k in json.loads(listed.output)["items"]] == [key_id]
    assert made["key"] not in listed.output
    plain = runner.invoke(app, ["create", *url])
    assert plain.output.strip().startswith("psk_")

    assert runner.invoke(app, ["revoke", key_id, *url]).exit_code == 0
    with engine.connect() as connection:
        assert live_signing_key(connection, key_id) is None
    engine.dispose()
    again = runner.invoke(app, ["revoke", key_id, *url])
    assert again.exit_code == 1 and "no live signing key" in again.output
