"""Console form bodies are small and parsed without stalling the server (issue 11, item 1).

A 6 MiB sign-in form used to be parsed on the event loop for seconds, holding every other
request. These tests send such bodies over a raw socket and time `/healthz` meanwhile.
"""

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.console.conftest import ConsoleServer

BIG: int = 6 * 1024 * 1024


def _raw_post(url: str, path: str, headers: dict[str, str], body_chunks: Iterator[bytes]) -> int:
    """POST over a plain socket, sending the body as it comes; the status the server answers."""
    host, _, port = url.removeprefix("http://").partition(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        head = f"POST {path} HTTP/1.1\r\nhost: {host}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode())
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered (and closed) before taking the whole body
        answer = sock.recv(4096)
    return int(answer.split(b" ", 2)[1])


def _form_chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    piece = b"a=b&" * (size // 4)
    for _ in range(total // size):
        yield piece


def _chunked(chunks: Iterator[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        yield f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    yield b"0\r\n\r\n"


FORM = "application/x-www-form-urlencoded"


def test_a_big_declared_login_body_is_refused_at_once(console_server: ConsoleServer) -> None:
    headers = {"content-type": FORM, "content-length": str(BIG), "cookie": "plaudit_login=n"}
    began = time.monotonic()
    status = _raw_post(console_server.url, "/login", headers, _form_chunks(BIG))
    assert status == 413
    assert time.monotonic() - began < 2


def test_healthz_answers_while_a_big_login_body_streams(console_server: ConsoleServer) -> None:
    headers = {"content-type": FORM, "transfer-encoding": "chunked", "cookie": "plaudit_login=n"}
    statuses: list[int] = []
    sender = threading.Thread(
        target=lambda: statuses.append(
            _raw_post(console_server.url, "/login", headers, _chunked(_form_chunks(BIG)))
        )
    )
    sender.start()
    slowest = 0.0
    with httpx.Client(base_url=console_server.url, timeout=30) as client:
        while sender.is_alive():
            began = time.monotonic()
            assert client.get("/healthz").status_code == 200
            slowest = max(slowest, time.monotonic() - began)
            time.sleep(0.01)
    sender.join()
    assert statuses == [413]
    assert slowest < 0.5


def test_a_login_body_without_the_nonce_cookie_is_refused_before_it_is_read(
    console_server: ConsoleServer,
) -> None:
    headers = {"content-type": FORM, "content-length": str(BIG - 1)}
    began = time.monotonic()
    status = _raw_post(console_server.url, "/login", headers, _form_chunks(BIG))
    assert status == 403
    assert time.monotonic() - began < 2


def test_too_many_fields_are_refused(console_server: ConsoleServer) -> None:
    body = "&".join(f"f{i}=1" for i in range(2000))
    answer = httpx.post(
        f"{console_server.url}/login", content=body,
        headers={"content-type": FORM, "cookie": "plaudit_login=n"},
    )  # fmt: skip
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("content_type", ["multipart/form-data; boundary=x", "application/json"])
def test_other_form_encodings_are_refused(console_server: ConsoleServer, content_type: str) -> None:
    answer = httpx.post(
        f"{console_server.url}/login", content=b"{}",
        headers={"content-type": content_type, "cookie": "plaudit_login=n"},
    )  # fmt: skip
    assert answer.status_code == 415
