"""`plaudit key`: signing keys for per-span feedback tokens (create, list, revoke)."""

from typing import Annotated

import typer

from plaudit.cli.db import CreateProject, DatabaseUrl, Json, open_engine
from plaudit.cli.output import Group, emit, fail
from plaudit.store.signing_keys import create_signing_key, list_signing_keys, revoke_signing_key

app = typer.Typer(
    help="Signing keys: the SDK mints per-span feedback tokens offline with one.",
    no_args_is_help=True,
    cls=Group,
)


@app.command()
def create(
    project: Annotated[
        str, typer.Option("--project", "-p", help="Project whose tokens the key signs.")
    ] = "default",
    name: Annotated[str, typer.Option(help="A label to recognise the key by.")] = "",
    create_project: CreateProject = False,
    database_url: DatabaseUrl = None,
    json: Json = False,
) -> None:
    """Create a signing key and print it — the only time it is shown.

    Give it to the SDK as PLAUDIT_SIGNING_KEY (with PLAUDIT_PROJECT set to the same project).
    """
    engine = open_engine(database_url, project, create_project)
    try:
        with engine.begin() as connection:
            key_id, text = create_signing_key(connection, project, name)
    finally:
        engine.dispose()
    emit({"id": key_id, "key": text, "project": project}, json, text)


@app.command("list")
def list_(
    project: Annotated[
        str | None, typer.Option("--project", "-p", help="Only this project.")
    ] = None,
    database_url: DatabaseUrl = None,
    json: Json = False,
) -> None:
    """List signing keys (never the keys themselves)."""
    engine = open_engine(database_url, project)
    try:
        with engine.connect() as connection:
            items = list_signing_keys(connection, project)
    finally:
        engine.dispose()
    lines = [
        f"{k['id']}  {k['project']}  {k['name']}" + ("  (revoked)" if k["revoked_at"] else "")
        for k in items
    ]
    emit({"items": items}, json, "\n".join(lines) or "no signing keys")


@app.command()
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `plaudit key list`).")],
    database_url: DatabaseUrl = None,
    json: Json = False,
) -> None:
    """Revoke a key; every feedback token it signed is refused within seconds."""
    engine = open_engine(database_url)
    with engine.begin() as connection:
        revoked = revoke_signing_key(connection, key_id)
    engine.dispose()
    if not revoked:
        raise fail(f"no live signing key {key_id!r}")
    emit({"id": key_id, "revoked": True}, json, f"revoked {key_id}")
