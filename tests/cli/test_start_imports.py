"""What `plaudit serve` imports before it answers: not the SDK, its HTTP client, nor Alembic.

Every command module is imported when the CLI starts (Typer registers them all), so an import at
the top of one lands on every start of the server; the SDK and httpx cost about a tenth of a
second of it and only the client commands (`agreement --url`, `evaluate run`) use them.
Alembic is imported only when a schema needs migrating (tests/store/test_migrations.py).
"""

import subprocess
import sys

import pytest

SERVER_START = "import plaudit.cli, plaudit.server.app"


def modules_after(statement: str) -> set[str]:
    """Top-level names in `sys.modules` after `statement`, run in a fresh interpreter."""
    program = f"{statement}\nimport sys\nprint('\\n'.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    return set(done.stdout.split())


@pytest.mark.parametrize("unwanted", ["plaudit.sdk", "httpx", "alembic"])
def test_the_server_starts_without(unwanted: str) -> None:
    assert unwanted not in modules_after(SERVER_START)


def test_the_check_sees_the_sdk_once_it_is_imported() -> None:
    # The same reading after the SDK is imported: the two tests above cannot pass vacuously.
    assert {"plaudit.sdk", "httpx"} <= modules_after(f"{SERVER_START}, plaudit.sdk")
