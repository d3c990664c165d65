"""Docs that cannot drift: the API reference, the limits table and the README's commands."""

from pathlib import Path

from plaudit.core.limits import LIMITS
from plaudit.server.openapi import write

ROOT = Path(__file__).resolve().parent.parent


def test_api_reference_is_generated_from_the_current_code(tmp_path: Path) -> None:
    write(tmp_path)
    for name in ("openapi.json", "api.md"):
        current = (ROOT / "docs" / name).read_text()
        assert current == (tmp_path / name).read_text(), (
            f"docs/{name} is stale: run `python -m plaudit.server.openapi docs`"
        )


def test_every_limit_is_documented() -> None:
    conventions = (ROOT / "docs" / "api-conventions.md").read_text()
    missing = [name for name, value in LIMITS.items() if f"`{name}` | {value:,}" not in conventions]
    assert missing == []


def test_readme_names_the_commands_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in readme
    assert "bash scripts/start" in readme


def test_every_setting_is_documented() -> None:
    from plaudit.settings import Settings

    configuration = (ROOT / "docs" / "configuration.md").read_text()
    missing = [f for f in Settings.__struct_fields__ if f"PLAUDIT_{f.upper()}" not in configuration]
    assert missing == []
