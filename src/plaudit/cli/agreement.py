"""`plaudit agreement`: how far an evaluator agrees with end users, per capability — on the
database like `plaudit query`, or through a server's API with `--url`."""

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from plaudit.analytics.agreement import agreement as compute
from plaudit.cli.db import DatabaseUrl, Json, open_engine
from plaudit.cli.output import emit, fail
from plaudit.cli.query import Project
from plaudit.core.agreement import AgreementRequest, parse_request
from plaudit.errors import PlauditError

User = Annotated[str, typer.Option("--user", help="The feedback name end users give.")]
Evaluator = Annotated[str, typer.Option("--evaluator", help="The name an evaluator scores as.")]
By = Annotated[str | None, typer.Option("--by", help="Group: capability.")]
When = Annotated[str | None, typer.Option(help="A duration (7d, 24h) or an RFC 3339 time.")]
Url = Annotated[str | None, typer.Option("--url", help="Ask this server instead of the database.")]
Token = Annotated[
    str | None, typer.Option("--token", help="A read token for --url [env: PLAUDIT_TOKEN].")
]


def agreement(
    user: User,
    evaluator: Evaluator,
    by: By = None,
    since: When = None,
    until: When = None,
    project: Project = "default",
    database_url: DatabaseUrl = None,
    url: Url = None,
    token: Token = None,
    json: Json = False,
) -> None:
    """Agreement, Cohen's kappa, Pearson's r and the confusion matrix over the spans both the
    end users and the evaluator rated (docs/agreement.md)."""
    params = {"user": user, "evaluator": evaluator, "by": by, "since": since, "until": until}
    given = [(key, value) for key, value in params.items() if value is not None]
    parsed = parse_request(given, datetime.now(UTC))
    if isinstance(parsed, list):
        raise fail("; ".join(f"--{i.pointer[1:]}: {i.message}" for i in parsed), code=2)
    items = _remote(url, token, dict(given)) if url else _local(database_url, project, parsed)
    if json:
        emit({"items": items}, True, "")
    else:
        _table(items, "(none)" if by else "(all spans)")


def _local(database_url: str | None, project: str, request: AgreementRequest) -> Any:
    engine = open_engine(database_url)
    try:
        with engine.connect() as connection:
            return compute(connection, project, request)
    except PlauditError as error:
        raise fail(error.detail) from None
    finally:
        engine.dispose()


def _remote(url: str, token: str | None, params: dict[str, str]) -> Any:
    # The SDK (and httpx under it) is imported here: `plaudit serve` starts without it.
    from plaudit.sdk._safety import PlauditSdkError
    from plaudit.sdk.loop import _Api

    try:
        return _Api(url, token).json("GET", "/v1/agreement", params=params)["items"]
    except PlauditSdkError as error:
        raise fail(str(error)) from None


def _figure(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _table(items: list[dict[str, Any]], unnamed: str) -> None:
    if not items:
        typer.echo("no span has both the users' and the evaluator's feedback")
        return
    table = Table(show_edge=False, header_style="bold")
    table.add_column("capability")
    for name in ("spans", "agreement", "kappa", "pearson", "tp", "fp", "fn", "tn"):
        table.add_column(name, justify="right")
    for item in items:
        confusion = item["confusion"]
        table.add_row(
            item["capability"] or unnamed, str(item["n"]),
            _figure(item["agreement"]), _figure(item["kappa"]), _figure(item["pearson"]),
            *(str(confusion[k]) for k in ("tp", "fp", "fn", "tn")),
        )  # fmt: skip
    Console(width=200).print(table)
