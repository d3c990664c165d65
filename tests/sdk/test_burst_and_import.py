"""A burst of 1,000 traces × 10 spans arrives whole; `import plaudit.sdk` stays light."""

import subprocess
import sys

from sqlalchemy import func, select

import plaudit.sdk as plaudit
from plaudit.store.database import create_database_engine
from plaudit.store.schema import spans
from tests.conftest import LiveServer
from tests.sdk.conftest import Errors, wait_for


def stored_spans(database_url: str, capability: str) -> int:
    engine = create_database_engine(database_url)
    with engine.connect() as connection:
        count = connection.scalar(
            select(func.count()).select_from(spans).where(spans.c.capability == capability)
        )
    engine.dispose()
    return count or 0


def test_a_burst_of_1000_traces_of_10_spans_arrives_complete(
    live_server: LiveServer, errors: Errors, unique: str
) -> None:
    plaudit.init(url=live_server.url, token=live_server.admin_token, on_error=errors)
    capability = f"burst-{unique}"
    for _ in range(1000):
        with plaudit.span("turn", capability=capability, step="plan"):
            for step in range(9):
                with plaudit.span(f"step-{step}", step=f"s{step}"):
                    pass
    assert plaudit.flush(timeout=60)
    assert wait_for(lambda: stored_spans(live_server.database_url, capability) == 10_000, 10)
    assert errors.items == []


SERVER_ONLY = ("sqlalchemy", "litestar", "uvicorn", "alembic", "jinja2", "psycopg", "typer")


def test_importing_the_sdk_loads_no_server_dependency() -> None:
    probe = (
        "import sys, plaudit.sdk\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {SERVER_ONLY!r})\n"
        "heavy = sorted(m for m in sys.modules if m.startswith('opentelemetry.sdk'))\n"
        "print(bad, heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[] []"


SDK_MAY_IMPORT = ("plaudit.core", "plaudit.sdk", "httpx", "msgspec", "opentelemetry")


def test_the_sdk_imports_only_core_httpx_and_opentelemetry() -> None:
    from pathlib import Path

    from tests.test_architecture import PACKAGE, imported_modules

    offences = [
        f"{path.name} imports {name}"
        for path in sorted((PACKAGE / "sdk").glob("*.py"))
        for name in imported_modules(path)
        if name.split(".")[0] not in sys.stdlib_module_names and not name.startswith(SDK_MAY_IMPORT)
    ]
    assert offences == []
    assert Path(PACKAGE / "py.typed").exists()


def test_the_public_surface_is_sorted_and_complete() -> None:
    assert plaudit.__all__ == sorted(plaudit.__all__)
    public = {name for name in dir(plaudit) if not name.startswith("_")}
    modules = {"client", "evaluation", "feedback", "loop", "tokens", "tracing"}
    assert public - modules == set(plaudit.__all__)
