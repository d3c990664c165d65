"""`plaudit token`: create, list and revoke access tokens."""

from typing import Annotated

import typer

from plaudit.cli.db import DatabaseUrl, Json, open_engine
from plaudit.cli.output import emit, fail
from plaudit.core.access import Scope
from plaudit.store.tokens import create_token, list_tokens, revoke_token

app = typer.Typer(
    help="Access tokens: create (the secret is shown once), list, revoke.", no_args_is_help=True
)


@app.command()
def create(
    project: Annotated[
        str, typer.Option("--project", "-p", help="Project the token belongs to.")
    ] = "default",
    scope: Annotated[
        list[Scope] | None,
        typer.Option(
            "--scope", "-s", help="Repeatable. Only feedback:write makes a browser-safe pk_ token."
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="A label to recognise the token by.")] = "",
    origin: Annotated[
        list[str] | None,
        typer.Option("--origin", help="Repeatable. Browser origins allowed to use it."),
    ] = None,
    database_url: DatabaseUrl = None,
    json: Json = False,
) -> None:
    """Create a token and print its secret — the only time it is shown."""
    scopes = frozenset(scope or [Scope.ADMIN])
    engine = open_engine(database_url)
    with engine.begin() as connection:
        token_id, secret = create_token(connection, project, scopes, name, origin)
    engine.dispose()
    emit(
        {"id": token_id, "token": secret, "project": project, "scopes": sorted(scopes)},
        json,
        secret,
    )


@app.command("list")
def list_(
    project: Annotated[
        str | None, typer.Option("--project", "-p", help="Only this project.")
    ] = None,
    database_url: DatabaseUrl = None,
    json: Json = False,
) -> None:
    """List tokens (never their secrets)."""
    engine = open_engine(database_url)
    with engine.connect() as connection:
        items = list_tokens(connection, project)
    engine.dispose()
    lines = [
        f"{t['id']}  {t['project']}  {','.join(t['scopes'])}  {t['name']}"
        + ("  (revoked)" if t["revoked_at"] else "")
        for t in items
    ]
    emit(items, json, "\n".join(lines) or "no tokens")


@app.command()
def revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (see `plaudit token list`).")],
    database_url: DatabaseUrl = None,
    json: Json = False,
) -> None:
    """Revoke a token; servers stop accepting it within seconds."""
    engine = open_engine(database_url)
    with engine.begin() as connection:
        revoked = revoke_token(connection, token_id)
    engine.dispose()
    if not revoked:
        raise fail(f"no live token {token_id!r}")
    emit({"id": token_id, "revoked": True}, json, f"revoked {token_id}")
