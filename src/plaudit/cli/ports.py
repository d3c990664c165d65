"""Whether the server can listen where it was told to, checked before the database is touched
and before any banner, so a busy port is one line and exit 5 rather than a log record from deep
inside the ASGI server."""

import errno
import socket

from plaudit.cli.output import fail
from plaudit.cli.problems import Exit


def check_free(host: str, port: int, flag: str = "--port") -> None:
    """Raise the CLI's problem unless a listening socket can be bound to `host`:`port`.

    Bound the way uvicorn binds (SO_REUSEADDR), so a port held only by connections closing
    (TIME_WAIT) counts as free, as it will be for the server; then closed at once. Another
    program may still take the port in the moment between; the server then fails as before.
    """
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise fail(f"cannot listen on {host}: {error.strerror}", Exit.USAGE) from None
    family, kind, proto, _, address = found[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as error:
            raise _problem(host, port, flag, error) from None


def _problem(host: str, port: int, flag: str, error: OSError) -> Exception:
    where = f"{host}:{port}"
    if error.errno == errno.EADDRINUSE:
        return fail(
            f"{where} is already in use by another program: stop it or choose another {flag}",
            Exit.PORT_BUSY,
        )
    if error.errno == errno.EACCES:
        return fail(f"not allowed to listen on {where} (ports below 1024 need privileges)",
                    Exit.USAGE)  # fmt: skip
    if error.errno == errno.EADDRNOTAVAIL:
        return fail(f"cannot listen on {host}: it is not an address of this machine", Exit.USAGE)
    return fail(f"cannot listen on {where}: {error.strerror}", Exit.USAGE)
