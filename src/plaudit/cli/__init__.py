"""The `plaudit` command line: a thin layer over the server, the store and the SDK."""

import typer

from plaudit.cli import agreement, dataset, db, evaluate, feedback, key, query, queue, serve, token
from plaudit.cli.output import fail
from plaudit.settings import SettingsError

app = typer.Typer(
    help="Plaudit: end-user feedback on AI responses, linked to OpenTelemetry traces.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
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


def main() -> None:
    """Entry point of the `plaudit` script."""
    try:
        app()
    except SettingsError as error:  # from any command: one line, the usage exit status
        raise SystemExit(fail(str(error), code=2).exit_code) from None
