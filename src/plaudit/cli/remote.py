"""Remote mode: `query`, `feedback` and `dataset` commands ask a running server over its HTTP API
(`--url`/`--token`, or PLAUDIT_URL/PLAUDIT_TOKEN) instead of opening the database, through the
SDK's own HTTP helper, so there is one way to call the server.

Which mode: `--url` → remote; `--database-url` → local; both → a usage error. With neither flag,
PLAUDIT_URL means remote unless PLAUDIT_DATABASE_URL is also set (an operator's shell on the
server machine keeps working on its database).
"""

import os
from typing import TYPE_CHECKING, Annotated

import typer

from plaudit.cli.output import fail
from plaudit.cli.problems import Exit

if TYPE_CHECKING:  # httpx is imported only when a command goes remote
    from plaudit.sdk.loop import Datasets

Url = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="Ask the server at this URL instead of opening the database [env: PLAUDIT_URL]",
        show_default=False,
    ),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token", help="Token for --url (read scope or more) [env: PLAUDIT_TOKEN]",
        show_default=False,
    ),
]  # fmt: skip


def server(url: str | None, token: str | None, database_url: str | None) -> "Datasets | None":
    """The server to ask, or None to work on the database (see the module's docstring)."""
    if url is not None and database_url is not None:
        raise fail("give --url (a server) or --database-url (a database), not both", Exit.USAGE)
    if url is None and database_url is None and not os.environ.get("PLAUDIT_DATABASE_URL"):
        url = os.environ.get("PLAUDIT_URL") or None
    if url is None:
        return None
    if not url.startswith(("http://", "https://")):
        raise fail(f"--url {url!r} is not an http:// or https:// URL", Exit.USAGE)
    token = token or os.environ.get("PLAUDIT_TOKEN") or None
    if token is None:
        raise fail(f"{url} needs a token: give --token or set PLAUDIT_TOKEN", Exit.USAGE)
    from plaudit.sdk.loop import Datasets

    return Datasets(url, token)


def refuse_project(project: str, default: str = "default") -> None:
    """Remote mode works on the token's project: a different --project is a mistake."""
    if project != default:
        raise fail(
            f"--project {project!r}: with --url the token's project is used; "
            "drop --project or use a token of that project",
            Exit.USAGE,
        )
