"""Layers point one way (STYLE.md §3): the domain core imports no server, database or UI code."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "plaudit"

FORBIDDEN = {
    "core": ("plaudit.store", "plaudit.server", "plaudit.ingest", "plaudit.cli", "sqlalchemy",
             "litestar", "uvicorn", "jinja2", "alembic", "psycopg"),
    "store": ("plaudit.server", "plaudit.ingest", "plaudit.cli", "litestar", "uvicorn"),
    "ingest": ("plaudit.server", "plaudit.cli", "litestar", "uvicorn"),
    "loop": ("plaudit.server", "plaudit.console", "plaudit.cli", "litestar", "uvicorn", "jinja2"),
}  # fmt: skip


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_one_way(layer: str) -> None:
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"no modules found in {layer}"
    offences = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in files
        for name in imported_modules(path)
        if name.startswith(FORBIDDEN[layer])
    ]
    assert offences == []
