"""Every Python block of docs/sdk.md runs, in order, against a real server; every public SDK name
is shown in one of them."""

import re
from pathlib import Path

import plaudit.sdk
from plaudit.store.database import create_database_engine
from plaudit.store.signing_keys import create_signing_key
from tests.conftest import LiveServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text())


def test_every_example_runs_against_a_live_server(live_server: LiveServer) -> None:
    engine = create_database_engine(live_server.database_url)
    with engine.begin() as connection:
        key = create_signing_key(connection, "default", "docs")[1]
    engine.dispose()
    namespace: dict[str, object] = {"__name__": "docs_sdk"}
    for number, block in enumerate(blocks()):
        code = (
            block.replace("http://127.0.0.1:8000", live_server.url)
            .replace("sk_your_token", live_server.admin_token)
            .replace("psk_your_signing_key", key)
        )
        try:
            exec(compile(code, f"docs/sdk.md block {number}", "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"docs/sdk.md block {number} failed:\n{block}") from error
    errors = namespace["errors"]
    assert isinstance(errors, list) and len(errors) == 1  # only the one the docs provoke


def test_every_public_name_has_an_example() -> None:
    code = "\n".join(blocks())
    missing = [name for name in plaudit.sdk.__all__ if not re.search(rf"\b{name}\b", code)]
    assert missing == []
