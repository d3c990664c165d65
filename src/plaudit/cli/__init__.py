"""The `plaudit` command line: a thin layer over the server, the store and the SDK."""

import sys
from typing import Annotated

import typer

from plaudit import __version__
from plaudit.cli import agreement, dataset, db, evaluate, feedback, key, query, queue, serve, token
from plaudit.cli.output import Group, wants_json
from plaudit.cli.problems import Exit, explain, report

app = typer.Typer(
    help="Plaudit: end-user feedback on AI responses, linked to OpenTelemetry traces.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Group,
)
app.command("serve")(serve.serve)
app.command("demo")(serve.demo)
app.add_typer(db.app, name="db")
app.add_typer(token.app, name="token")
app.add_typer(key.app, name="key")
app.command("query")(query.query)
app.add_typer(feedback.app, name="feedback")
app.add_typer(dataset.app, name="dataset")
app.add_typer(queue.app, name="queue")
app.command("agreement")(agreement.agreement)
app.add_typer(evaluate.app, name="eval")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"plaudit {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
        ),
    ] = False,
) -> None:
    """Plaudit: end-user feedback on AI responses, linked to OpenTelemetry traces."""


def main() -> None:
    """Entry point of the `plaudit` script: exits with the codes of `plaudit.cli.problems`."""
    try:
        code = app(standalone_mode=False)
    except (KeyboardInterrupt, typer.Abort):
        typer.echo("interrupted", err=True)
        code = Exit.INTERRUPTED
    except Exception as error:  # what the groups did not see: bad options of `plaudit` itself
        problem = explain(error)
        if problem is None:
            raise
        code = report(problem, wants_json())
    sys.exit(int(code or 0))
