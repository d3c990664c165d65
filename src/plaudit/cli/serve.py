"""`plaudit serve` and `plaudit demo`: run the server."""

import secrets
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer

from plaudit.cli.db import DatabaseUrl, open_engine
from plaudit.cli.output import fail
from plaudit.cli.ports import check_free
from plaudit.cli.problems import Exit
from plaudit.settings import Settings, export_for_workers, from_environment

Host = Annotated[
    str | None,
    typer.Option(
        help="Address to listen on [env: PLAUDIT_HOST; default 127.0.0.1]", show_default=False
    ),
]
Port = Annotated[
    int | None, typer.Option(help="Port [env: PLAUDIT_PORT; default 8000]", show_default=False)
]
GrpcPort = Annotated[
    int | None,
    typer.Option(
        help="OTLP/gRPC port, 0 for none; needs plaudit[grpc] [env: PLAUDIT_GRPC_PORT; "
        "default 4317]",
        show_default=False,
    ),
]
Dev = Annotated[
    bool | None,
    typer.Option(
        "--dev/--no-dev",
        help="Development mode: no tokens needed. Loopback addresses only. [env: PLAUDIT_DEV]",
        show_default=False,
    ),
]
LogLevel = Annotated[
    str | None,
    typer.Option(help="debug, info, warning, error [env: PLAUDIT_LOG_LEVEL]", show_default=False),
]
LogFormat = Annotated[
    str | None, typer.Option(help="json or text [env: PLAUDIT_LOG_FORMAT]", show_default=False)
]
ChatPort = Annotated[
    int | None,
    typer.Option(
        help="Port of the chat demo app run beside the server (default: the server's port + 1; "
        "0: do not run it).",
        show_default=False,
    ),
]
Workers = Annotated[
    int | None,
    typer.Option(
        help="Server processes on this machine; more than 1 needs PostgreSQL "
        "[env: PLAUDIT_WORKERS; default 1]",
        show_default=False,
    ),
]
AccessLog = Annotated[
    bool, typer.Option("--access-log", help="Log every request (costs throughput).")
]


def _settings(**flags: object) -> Settings:
    settings = from_environment(**flags)
    if problem := settings.problem():
        raise fail(problem, Exit.USAGE)
    return settings


def _check_ready(settings: Settings) -> None:
    """Everything a user can get wrong, before any banner: the port (exit 5 when busy), then
    the database (a bad URL exits 2, unreachable 3, a path that cannot be written 4); its
    schema is brought up to date here, as the server would at start."""
    check_free(settings.host, settings.port)
    open_engine(settings.database_url).dispose()


def run(settings: Settings) -> None:
    """Serve until interrupted."""
    import uvicorn

    from plaudit.server.app import create_app
    from plaudit.server.logs import configure
    from plaudit.server.otlp_grpc import port_problem as grpc_port_problem
    from plaudit.store.database import DatabaseInUse, ServerClaim

    _check_ready(settings)
    configure(settings.log_level, settings.log_format, settings.access_log)
    try:
        claim = ServerClaim(settings.database_url)  # before the demo load writes to the file
    except DatabaseInUse as error:
        raise fail(str(error)) from None
    if problem := grpc_port_problem(settings):
        claim.release()
        raise fail(problem)
    if settings.demo:
        from plaudit.demo import load_demo

        summary = load_demo(settings.database_url)
        typer.secho(
            f"demo project {summary.project!r}: {summary.traces} traces, {summary.spans} spans, "
            f"{summary.feedback} feedback events ({summary.created} new)",
            err=True,
        )
    typer.secho(
        f"Plaudit on http://{settings.host}:{settings.port}  (API docs: /docs)"
        + ("  [dev mode: no tokens required]" if settings.dev else ""),
        err=True,
        fg=typer.colors.GREEN,
    )
    app: Any = create_app(settings)
    if settings.workers > 1:
        app = "plaudit.server.app:worker_app"
        export_for_workers(_shared_console_secret(settings))
    uvicorn.run(app, **uvicorn_options(settings))
    claim.release()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves `settings` (tests start their servers with the same options).

    uvicorn believes `X-Forwarded-For` from 127.0.0.1 unless told otherwise (and reads
    `FORWARDED_ALLOW_IPS` when not given a list), so any local process or a same-host proxy that
    passes the header through let clients choose their own address. Here only the operator's
    trusted proxies are believed, and with none, proxy headers are off.
    """
    return {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": settings.access_log,
        "loop": "uvloop",
        "http": "httptools",
        "timeout_graceful_shutdown": 10,
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": list(settings.trusted_proxies),
        "workers": settings.workers,
        "factory": settings.workers > 1,
        # A worker answers its health check once started; several migrating on 2 cores take a
        # while (they wait for one another's migration lock).
        "timeout_worker_healthcheck": 60,
    }


def _shared_console_secret(settings: Settings) -> Settings:
    """Workers must sign console sessions alike: one random secret for all when none is set."""
    if settings.console_secret is not None:
        return settings
    return msgspec.structs.replace(settings, console_secret=secrets.token_urlsafe(32))


def serve(
    host: Host = None,
    port: Port = None,
    grpc_port: GrpcPort = None,
    database_url: DatabaseUrl = None,
    dev: Dev = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo project first (idempotent).")
    ] = False,
    log_level: LogLevel = None,
    log_format: LogFormat = None,
    access_log: AccessLog = False,
    workers: Workers = None,
) -> None:
    """Run the Plaudit server (migrates the database first)."""
    run(
        _settings(
            host=host, port=port, grpc_port=grpc_port, database_url=database_url, dev=dev,
            demo=demo, log_level=log_level, log_format=log_format, access_log=access_log,
            workers=workers,
        )
    )  # fmt: skip


def _chat_checkout() -> Path | None:
    """The source checkout holding `examples/chat` (the working directory or this package's)."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[3]):
        if (root / "examples" / "chat" / "__main__.py").is_file():
            return root
    return None


def _start_chat(settings: Settings, chat_port: int | None) -> subprocess.Popen[bytes] | None:
    """Run the chat demo beside the server and say where to click; None if it is not here."""
    if chat_port == 0:
        return None
    root = _chat_checkout()
    if root is None:
        typer.secho(
            "the chat demo (examples/chat) is not in this installation; run `plaudit demo` "
            "from a source checkout to get it",
            err=True,
        )
        return None
    port = chat_port or settings.port + 1
    server = f"http://{settings.host}:{settings.port}"
    chat = subprocess.Popen(
        [sys.executable, "-m", "examples.chat", "--plaudit-url", server,
         "--host", settings.host, "--port", str(port), "--exit-with-parent"],
        cwd=root,
    )  # fmt: skip
    typer.secho(
        f"Chat demo on http://{settings.host}:{port} — ask a question, then click 👍/👎, the "
        "stars, an issue, Copy, Regenerate, Edit the answer or send a comment. Each click is "
        f"stored as feedback on the answer's span: see {server}/v1/feedback?capability=chat",
        err=True,
        fg=typer.colors.CYAN,
    )
    return chat


def demo(
    host: Host = None,
    port: Port = None,
    database_url: DatabaseUrl = None,
    log_level: LogLevel = None,
    log_format: LogFormat = None,
    chat_port: ChatPort = None,
) -> None:
    """Load the demo project and serve it in development mode (loopback only), with the chat
    demo app beside it."""
    settings = _settings(
        host=host, port=port, database_url=database_url, dev=True, demo=True,
        log_level=log_level, log_format=log_format,
    )  # fmt: skip
    _check_ready(settings)  # before the chat app's banner, too
    chat = _start_chat(settings, chat_port)
    try:
        run(settings)
    finally:
        if chat is not None:
            chat.terminate()
            chat.wait(timeout=10)
