"""CLI output: JSON for scripts (`--json`), plain text for people, and errors as `problems.py`
describes them.

With `--json` every command prints one JSON document on stdout (NDJSON streams excepted, as
their help says): a resource as an object, a listing as `{"items": [...]}`, a batch write as
`{"results": [...]}` with counts — the shapes the HTTP API answers — and an error as
`{"error": {"message", "kind", "exit_code", "problem"?}}`.
"""

import sys
from typing import Annotated, Any

import msgspec
import typer
from typer.core import TyperGroup

from plaudit.cli.problems import CliProblem, Exit, explain, report


def _remember_json(context: typer.Context, value: bool) -> bool:
    if value:
        context.meta["plaudit.json"] = True  # shared by every context of this command line
    return value


Json = Annotated[
    bool, typer.Option("--json", help="Print JSON for scripts.", callback=_remember_json)
]


def wants_json(context: typer.Context | None = None) -> bool:
    """Whether this command line asked for JSON (errors too); without a context (an error in
    `plaudit`'s own options), whether `--json` is on the command line."""
    if context is not None and context.meta.get("plaudit.json"):
        return True
    return "--json" in sys.argv[1:]


def emit(data: Any, as_json: bool, text: str) -> None:
    """Print `data` as JSON, or `text` for a person."""
    if as_json:
        sys.stdout.write(msgspec.json.encode(data).decode() + "\n")
    else:
        typer.echo(text)


def fail(
    message: str, code: int = Exit.REFUSED, problem: dict[str, Any] | None = None
) -> CliProblem:
    """The error to raise: reported once, in one line (or JSON), with its exit code."""
    return CliProblem(message, code, problem)


class Group(TyperGroup):
    """Every `plaudit` command group: what a command raises that `problems.explain` knows
    becomes one line (or JSON) and its exit code, here, so no caller sees a traceback for it."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as error:
            problem = explain(error)
            if problem is None:
                raise
            raise typer.Exit(report(problem, wants_json(ctx))) from None
