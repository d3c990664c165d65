"""`pip install plaudit-sdk` on its own: the wheel built from clients/python, installed alone into
a fresh venv (its dependencies come from the package index), imports without any of the server's
dependencies, runs every example of docs/sdk.md against a real server, and stays small."""

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.sdk_size import TARGET_MB, install_alone, measure

from plaudit.store.database import create_database_engine
from plaudit.store.signing_keys import create_signing_key
from tests.conftest import LiveServer
from tests.sdk.test_docs_examples import blocks

SERVER_ONLY = (
    "litestar", "sqlalchemy", "alembic", "uvicorn", "jinja2", "typer", "prometheus_client",
    "phonenumbers", "psycopg", "plaudit.server", "plaudit.store", "plaudit.cli",
)  # fmt: skip

IMPORTS = f"""
import importlib.util, json, sys
import plaudit
import plaudit.sdk
assert plaudit.init is plaudit.sdk.init and plaudit.Feedback is plaudit.sdk.Feedback
server_only = {SERVER_ONLY!r}
print(json.dumps({{
    "file": plaudit.__file__,
    "version": plaudit.__version__,
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] in server_only or m in server_only),
    "installed": [m for m in server_only if importlib.util.find_spec(m) is not None],
}}))
"""


@pytest.fixture(scope="module")
def python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The interpreter of a fresh venv holding only plaudit-sdk and its dependencies."""
    yield install_alone(tmp_path_factory.mktemp("plaudit-sdk"))


def run_in(python: Path, code: str, cwd: Path) -> str:
    done = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, cwd=cwd, timeout=120
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


def test_import_loads_nothing_of_the_server(python: Path, tmp_path: Path) -> None:
    found = json.loads(run_in(python, IMPORTS, tmp_path))
    assert found["file"].startswith(str(python.parent.parent)), found["file"]
    assert found["version"] == "0.1.0"
    assert found["loaded"] == []
    assert found["installed"] == []


def test_the_sdk_examples_run_against_a_real_server(
    python: Path, live_server: LiveServer, tmp_path: Path
) -> None:
    engine = create_database_engine(live_server.database_url)
    with engine.begin() as connection:
        key = create_signing_key(connection, "default", "docs")[1]
    engine.dispose()
    code = [
        block.replace("http://127.0.0.1:8000", live_server.url)
        .replace("sk_your_token", live_server.admin_token)
        .replace("psk_your_signing_key", key)
        for block in blocks()
    ]
    runner = f"""
namespace = {{"__name__": "docs_sdk"}}
for number, block in enumerate({code!r}):
    exec(compile(block, f"docs/sdk.md block {{number}}", "exec"), namespace)
errors = namespace["errors"]
assert isinstance(errors, list) and len(errors) == 1, errors  # only the one the docs provoke
print("ran", number + 1)
"""
    assert run_in(python, runner, tmp_path).strip() == f"ran {len(code)}"


def test_it_installs_at_most_25_mb_beyond_opentelemetry(python: Path) -> None:
    report = measure(python)
    print(f"\nplaudit-sdk: {report['beyond_opentelemetry_mb']} MB beyond OpenTelemetry's own "
          f"{report['opentelemetry_mb']} MB: {report['ours']}")  # fmt: skip
    assert "plaudit-sdk" in report["ours"]
    assert report["beyond_opentelemetry_mb"] <= TARGET_MB
