"""CLI output: JSON for scripts (`--json`), plain text for people."""

import sys
from typing import Any

import msgspec
import typer


def emit(data: Any, as_json: bool, text: str) -> None:
    """Print `data` as JSON, or `text` for a person."""
    if as_json:
        sys.stdout.write(msgspec.json.encode(data).decode() + "\n")
    else:
        typer.echo(text)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error to stderr and return the exit to raise."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)
