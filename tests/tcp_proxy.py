"""A TCP proxy a test starts in front of a database, to cut it off or black-hole it on demand."""

import contextlib
import select
import socket
import threading
from typing import Final
from urllib.parse import urlsplit, urlunsplit

_CHUNK: Final = 65_536


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target`.

    `cut()` drops every connection and stops listening (the database is gone: connections are
    refused); `black_hole()` keeps connections open but forwards nothing (a dead network path:
    peers wait); `restore()` undoes either.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = self._listen(0)
        self.port: int = self._listener.getsockname()[1]
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._flowing = threading.Event()
        self._flowing.set()
        self._accepting = threading.Thread(target=self._accept, args=(self._listener,), daemon=True)
        self._accepting.start()

    def _listen(self, port: int) -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        return listener

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed by cut()
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                if listener.fileno() == -1:  # cut() while this one connected: drop it too
                    client.close()
                    upstream.close()
                    return
                self._open += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        try:
            while True:
                self._flowing.wait()
                ready, _, _ = select.select(list(peers), [], [], 0.1)
                if not self._flowing.is_set():
                    continue  # black hole: leave the bytes where they are
                for source in ready:
                    data = source.recv(_CHUNK)
                    if not data:
                        return
                    peers[source].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            client.close()
            upstream.close()

    def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        with self._lock:
            # shutdown wakes the thread blocked in accept(); close alone would leave the socket
            # listening (and accepting once more) until that call returns.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self._open.clear()

    def black_hole(self) -> None:
        """Keep every connection open but forward nothing, either way."""
        self._flowing.clear()

    def restore(self) -> None:
        """Forward again, and listen again if cut."""
        self._flowing.set()
        if self._listener.fileno() == -1:
            self._listener = self._listen(self.port)
            threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def close(self) -> None:
        """Stop for good."""
        self._flowing.set()
        self.cut()


def through(proxy: TcpProxy, database_url: str) -> str:
    """`database_url` (PostgreSQL) reached through `proxy` instead of directly."""
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(netloc=f"postgres@127.0.0.1:{proxy.port}"))
