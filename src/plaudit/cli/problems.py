"""What the CLI says when it cannot do what it was asked: one line on stderr, an exit code per
kind of trouble, and with `--json` the same as a JSON object on stdout. Never a traceback for a
user's mistake or an environment we cannot use; a traceback means a bug in Plaudit.

Exit codes (docs/cli.md):

    0   done
    1   refused: invalid input, a bad query, not found, rejected items, the server said no
    2   usage: a bad flag, argument or setting (a malformed database URL, a port out of range,
        an unknown log level, a bad --origin, an unknown --project, a missing --scope)
    3   the database cannot be reached or opened
    4   a file or folder cannot be read or written
    5   the port to listen on is taken
    6   remote mode: the server cannot be reached
    130 interrupted (Ctrl-C)
"""

import errno
import re
import sys
from enum import IntEnum
from typing import Any

import msgspec
import typer
from sqlalchemy import exc as sql

from plaudit.settings import SettingsError


class Exit(IntEnum):
    """The CLI's exit codes, by kind of trouble."""

    OK = 0
    REFUSED = 1
    USAGE = 2
    DATABASE = 3
    PATH = 4
    PORT_BUSY = 5
    SERVER = 6
    INTERRUPTED = 130


class CliProblem(Exception):
    """A failure to report in one line; `problem` is the server's RFC 9457 document, if any."""

    def __init__(
        self, message: str, code: int = Exit.REFUSED, problem: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message, self.code, self.problem = message, Exit(code), problem

    @property
    def exit_code(self) -> int:
        """The process's exit status (as `typer.Exit` names it)."""
        return int(self.code)


def explain(error: BaseException) -> CliProblem | None:
    """The one-line problem `error` stands for, or None when it is a bug (show the traceback)."""
    if isinstance(error, CliProblem):
        return error
    if isinstance(error, SettingsError):  # names the variable or flag that set it
        return CliProblem(str(error), Exit.USAGE)
    if isinstance(error, typer.TyperException):  # click's errors: a bad option, a missing one
        return _usage(error)
    if isinstance(error, sql.ArgumentError | sql.NoSuchModuleError):
        return CliProblem(f"not a database URL Plaudit can use: {_first_line(error)}", Exit.USAGE)
    if isinstance(error, sql.OperationalError | sql.InterfaceError):
        return CliProblem(f"cannot reach the database: {_driver_message(error)}", Exit.DATABASE)
    if (remote := _remote(error)) is not None:
        return remote
    if isinstance(error, OSError) and error.filename is not None:
        return CliProblem(f"cannot use {error.filename}: {_path_reason(error)}", Exit.PATH)
    if isinstance(error, OSError) and error.errno == errno.EPIPE:
        return CliProblem("the output was closed early", Exit.REFUSED)
    return None


def _remote(error: BaseException) -> CliProblem | None:
    """A failure of remote mode (`--url`): the server said no, or could not be reached. Looked up
    in sys.modules: a command that never loaded the HTTP client cannot have failed in it."""
    if (loop := sys.modules.get("plaudit.sdk.loop")) is not None and isinstance(
        error, loop.ApiError
    ):
        detail = error.problem.get("detail") or error.problem.get("title") or "no detail"
        return CliProblem(
            f"the server refused ({error.status}): {detail}", Exit.REFUSED, error.problem
        )
    if (httpx := sys.modules.get("httpx")) is not None and isinstance(error, httpx.TransportError):
        url = error.request.url if _has_request(error) else "the server"
        return CliProblem(f"cannot reach {url}: {_first_line(error)}", Exit.SERVER)
    return None


def _has_request(error: BaseException) -> bool:
    try:
        return getattr(error, "request", None) is not None
    except RuntimeError:  # httpx raises when an error was made without a request
        return False


def _usage(error: typer.TyperException) -> CliProblem:
    message = error.format_message()
    context = getattr(error, "ctx", None)
    if error.exit_code == Exit.USAGE and context is not None:
        message += f" (see `{context.command_path} --help`)"
    return CliProblem(message, Exit.REFUSED if error.exit_code == 1 else Exit.USAGE)


def _path_reason(error: OSError) -> str:
    if error.errno == errno.EEXIST:  # making a folder where a file is
        return "it is a file, not a folder"
    if error.errno == errno.ENOTDIR:
        return "part of the path is a file, not a folder"
    return (error.strerror or str(error)).lower()


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _driver_message(error: sql.DBAPIError) -> str:
    # psycopg says "connection failed: connection to server at "…", port 1 failed: Connection
    # refused" then a hint; SQLite says "unable to open database file".
    return _first_line(error)


def one_line(message: str) -> str:
    """`message` on one line (click lists choices one per line)."""
    return re.sub(r"\s*\n\s*", " ", message.strip())


def report(problem: CliProblem, as_json: bool) -> int:
    """Print `problem` (one line on stderr; with `as_json` also a JSON object on stdout)."""
    if as_json:
        body: dict[str, Any] = {
            "message": one_line(problem.message),
            "kind": problem.code.name.lower(),
            "exit_code": int(problem.code),
        }
        if problem.problem is not None:
            body["problem"] = problem.problem
        sys.stdout.write(msgspec.json.encode({"error": body}).decode() + "\n")
        sys.stdout.flush()
    typer.secho(f"error: {one_line(problem.message)}", err=True, fg="red")
    return int(problem.code)
