"""`plaudit token`: create, list and revoke access tokens."""

import re
from typing import Annotated, Final

import typer

from plaudit.cli.db import CreateProject, DatabaseUrl, Json, open_engine
from plaudit.cli.output import Group, emit, fail
from plaudit.cli.problems import Exit
from plaudit.core.access import Scope
from plaudit.store.tokens import create_token, list_tokens, revoke_token

app = typer.Typer(
    help="Access tokens: create (the secret is shown once), list, revoke.",
    no_args_is_help=True,
    cls=Group,
)

# What a browser sends as `Origin`: scheme, host and an optional port; nothing after it.
_ORIGIN: Final = re.compile(
    r"^https?://(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)(:\d{1,5})?$"
)


def check_origin(origin: str) -> str:
    """`origin` if a browser could send it; the server compares origins as exact strings, so
    `https://app.example.com/` (a slash) or `app.example.com` (no scheme) would never match."""
    if origin == "*" or _ORIGIN.match(origin):
        return origin
    hint = origin.rstrip("/") if _ORIGIN.match(origin.rstrip("/")) else None
    raise fail(
        f"--origin {origin!r} is not an origin: give scheme://host[:port] in lower case, "
        "with nothing after it" + (f" (did you mean {hint!r}?)" if hint else ""),
        Exit.USAGE,
    )


@app.command()
def create(
    scope: Annotated[
        list[Scope],
        typer.Option(
            "--scope",
            "-s",
            help="Required, repeatable: what the token may do. Only feedback:write makes a "
            "browser-safe pk_ token; admin can do everything.",
            show_default=False,
        ),
    ],
    project: Annotated[
        str, typer.Option("--project", "-p", help="Project the token belongs to.")
    ] = "default",
    name: Annotated[str, typer.Option(help="A label to recognise the token by.")] = "",
    origin: Annotated[
        list[str] | None,
        typer.Option("--origin", help="Repeatable. Browser origins allowed to use it."),
    ] = None,
    create_project: CreateProject = False,
    database_url: DatabaseUrl = None,
    json: Json = False,
) -> None:
    """Create a token and print its secret — the only time it is shown."""
    scopes = frozenset(scope)
    origins = [check_origin(o) for o in origin] if origin else None
    engine = open_engine(database_url, project, create_project)
    try:
        with engine.begin() as connection:
            token_id, secret = create_token(connection, project, scopes, name, origins)
    finally:
        engine.dispose()
    emit(
        {"id": token_id, "token": secret, "project": project, "scopes": sorted(scopes),
         "name": name, "origins": origins},
        json,
        secret,
    )  # fmt: skip


@app.command("list")
def list_(
    project: Annotated[
        str | None, typer.Option("--project", "-p", help="Only this project.")
    ] = None,
    database_url: DatabaseUrl = None,
    json: Json = False,
) -> None:
    """List tokens (never their secrets)."""
    engine = open_engine(database_url, project)
    try:
        with engine.connect() as connection:
            items = list_tokens(connection, project)
    finally:
        engine.dispose()
    lines = [
        f"{t['id']}  {t['project']}  {','.join(t['scopes'])}  {t['name']}"
        + ("  (revoked)" if t["revoked_at"] else "")
        for t in items
    ]
    emit({"items": items}, json, "\n".join(lines) or "no tokens")


@app.command()
def revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (see `plaudit token list`).")],
    database_url: DatabaseUrl = None,
    json: Json = False,
) -> None:
    """Revoke a token; servers stop accepting it within seconds."""
    engine = open_engine(database_url)
    try:
        with engine.begin() as connection:
            revoked = revoke_token(connection, token_id)
    finally:
        engine.dispose()
    if not revoked:
        raise fail(f"no live token {token_id!r}")
    emit({"id": token_id, "revoked": True}, json, f"revoked {token_id}")
