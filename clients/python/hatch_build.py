"""The files of plaudit-sdk: the package's root (lazy re-exports and the version), the SDK, and the
standard-library-only parts of the domain core it shares with the server. The server's wheel
leaves exactly these out (../../pyproject.toml); tests/sdk/test_sdk_distribution.py installs the
built wheel alone and imports it, so a new import the list lacks fails there."""

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path(__file__).resolve().parents[2] / "src"
FILES = (
    "plaudit/__init__.py",
    "plaudit/py.typed",
    "plaudit/sdk",
    "plaudit/core/__init__.py",
    "plaudit/core/ids.py",
    "plaudit/core/limits.py",
    "plaudit/core/feedback_tokens.py",
    "plaudit/core/base64url.py",
)


class SdkFiles(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            return
        for path in FILES:
            build_data["force_include"][str(SOURCE / path)] = path
