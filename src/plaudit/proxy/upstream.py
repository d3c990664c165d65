"""A lean HTTP/1.1 client for upstreams: pooled keep-alive connections, answers read as they come.

Why not httpx (which the SDK uses): its connection pool walks every pooled connection, polling each
socket, on every request, so at 100 concurrent calls it spent most of the server's CPU and the
proxy managed 40 calls/s where the upstream alone took 5,000 (`bench/proxy.py`). This client keeps
idle connections per upstream in a list, writes each request in one piece, and parses answers with
`httptools` (llhttp, already installed for uvicorn).

The body is handed on as the upstream sent it: transfer-encoding (chunking) undone, content-encoding
(gzip…) untouched, as a proxy must.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Iterable
from typing import Final
from urllib.parse import urlsplit

import httptools

MAX_IDLE_PER_UPSTREAM: Final = 256
_READ_BYTES: Final = 64 * 1024


class UpstreamError(Exception):
    """The upstream failed; `kind` is what the span records as `error.type`."""

    kind = "error"


class UpstreamTimeout(UpstreamError):
    """No answer (or no next bytes of it) in time."""

    kind = "timeout"


class UpstreamUnreachable(UpstreamError):
    """No connection could be made."""

    kind = "ConnectError"


class UpstreamBroke(UpstreamError):
    """The connection closed, or the answer was not HTTP, before the answer was complete."""

    kind = "RemoteProtocolError"


class _Connection:
    """One connection to an upstream, and the parser of the answer being read on it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.headers_done = False
        self.keep_alive = False
        self.complete = False
        self.received = False
        self.parser = httptools.HttpResponseParser(self)

    def reset(self) -> None:
        self.headers, self.body = [], []
        self.headers_done = self.keep_alive = self.complete = self.received = False
        self.parser = httptools.HttpResponseParser(self)

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        # asked now: once the message is complete the parser has reset and says no
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True

    @property
    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class UpstreamAnswer:
    """An answer whose status and headers have arrived; its body is read with `chunks()`."""

    def __init__(
        self, client: UpstreamClient, key: tuple[str, str, int], connection: _Connection, head: bool
    ) -> None:
        self._client, self._key, self._connection = client, key, connection
        self.status: int = connection.parser.get_status_code()
        self.headers = connection.headers
        # a HEAD answer, or one that cannot have a body, ends with its headers
        self._done = head or self.status in (204, 304) or connection.complete
        self._until_close = not head and not _has_length(self.headers)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body, piece by piece as it arrives (chunked transfer-encoding undone)."""
        connection = self._connection
        while True:
            while connection.body:
                yield connection.body.pop(0)
            if self._done or connection.complete:
                self._done = True
                return
            data = await self._client.read(connection)
            if not data:
                if self._until_close:
                    self._done = True
                    return
                raise UpstreamBroke("the upstream closed the connection mid-answer")
            _feed(connection, data)

    async def aclose(self) -> None:
        """Give the connection back for reuse if the answer was read whole; else close it."""
        connection = self._connection
        whole = (self._done or connection.complete) and not self._until_close
        if whole and connection.keep_alive and connection.usable:
            self._client.release(self._key, connection)
        else:
            connection.close()


def _has_length(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-length" or (
            lowered == b"transfer-encoding" and b"chunked" in value.lower()
        ):
            return True
    return False


def _feed(connection: _Connection, data: bytes) -> None:
    connection.received = True
    try:
        connection.parser.feed_data(data)
    except httptools.HttpParserError as error:
        raise UpstreamBroke(f"the upstream's answer is not valid HTTP: {error}") from None


class UpstreamClient:
    """Sends requests to upstream base URLs over pooled keep-alive connections."""

    def __init__(self, timeout: float, connect_timeout: float) -> None:
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._tls: ssl.SSLContext | None = None

    async def send(
        self, method: str, url: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> UpstreamAnswer:
        """Send a request; returns once the answer's status and headers have arrived."""
        parts = urlsplit(url)
        scheme = parts.scheme
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        authority = host if parts.port is None else f"{host}:{port}"
        request = _request_bytes(method, target, authority, headers, body)
        key = (scheme, host, port)
        connection, reused = await self._connection(key)
        try:
            return await self._exchange(key, connection, request, method)
        except UpstreamBroke:
            if not reused or connection.received:
                raise
        # A pooled connection the upstream had closed meanwhile: nothing was answered, so the
        # request was not taken; send it once more on a new connection.
        connection, _ = await self._connection(key, fresh=True)
        return await self._exchange(key, connection, request, method)

    async def _exchange(
        self, key: tuple[str, str, int], connection: _Connection, request: bytes, method: str
    ) -> UpstreamAnswer:
        try:
            connection.writer.write(request)
            if connection.writer.transport.get_write_buffer_size():
                # only a large body waits here; a small request has gone out with the write
                await self._drain(connection)
            while not connection.headers_done:
                data = await self.read(connection)
                if not data:
                    raise UpstreamBroke("the upstream closed the connection without answering")
                _feed(connection, data)
        except BaseException:
            connection.close()
            raise
        return UpstreamAnswer(self, key, connection, head=method == "HEAD")

    async def _drain(self, connection: _Connection) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await connection.writer.drain()
        except TimeoutError:
            raise UpstreamTimeout("the upstream took no more of the request in time") from None
        except OSError as error:
            raise UpstreamBroke(f"the upstream connection failed: {error}") from None

    async def read(self, connection: _Connection) -> bytes:
        """The next bytes from the upstream (b"" at its end); UpstreamTimeout past the timeout."""
        try:
            # asyncio.timeout, not wait_for: before Python 3.12 wait_for makes a task per read
            async with asyncio.timeout(self.timeout):
                return await connection.reader.read(_READ_BYTES)
        except TimeoutError:
            raise UpstreamTimeout("the upstream sent nothing in time") from None
        except OSError as error:
            raise UpstreamBroke(f"the upstream connection failed: {error}") from None

    async def _connection(
        self, key: tuple[str, str, int], fresh: bool = False
    ) -> tuple[_Connection, bool]:
        idle = self._idle.get(key)
        while idle and not fresh:
            connection = idle.pop()
            if connection.usable:
                connection.reset()
                return connection, True
            connection.close()
        scheme, host, port = key
        tls = self._tls_context() if scheme == "https" else None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=tls, limit=_READ_BYTES * 4),
                self.connect_timeout,
            )
        except TimeoutError:
            raise UpstreamTimeout(f"connecting to {host}:{port} took too long") from None
        except OSError as error:
            raise UpstreamUnreachable(f"cannot connect to {host}:{port}: {error}") from None
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Connection(reader, writer), False

    def release(self, key: tuple[str, str, int], connection: _Connection) -> None:
        """Keep a connection whose answer was read whole, for the next request."""
        idle = self._idle.setdefault(key, [])
        if len(idle) < MAX_IDLE_PER_UPSTREAM:
            idle.append(connection)
        else:
            connection.close()

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            try:
                import certifi  # installed with httpx; the same roots the SDK trusts

                self._tls = ssl.create_default_context(cafile=certifi.where())
            except ImportError:
                self._tls = ssl.create_default_context()
        return self._tls

    async def aclose(self) -> None:
        """Close every idle connection."""
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


def _request_bytes(
    method: str, target: str, authority: str, headers: list[tuple[bytes, bytes]], body: bytes
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1\r\nhost: {authority}\r\n".encode()]
    lines.extend(name + b": " + value + b"\r\n" for name, value in headers)
    if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
        lines.append(b"content-length: %d\r\n" % len(body))
    lines.append(b"\r\n")
    lines.append(body)
    return b"".join(lines)
