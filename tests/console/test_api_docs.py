"""`/docs` is served from this server only, under the console's CSP (issue 11, item 8).

It used to load an unpinned script from a CDN, without an integrity check, on the console's
origin: whoever controlled that script could act as a signed-in console user.
"""

import re

import httpx
from playwright.sync_api import Browser

from plaudit.console.render import SECURITY_HEADERS
from tests.console.conftest import ConsoleServer

ATTRIBUTE = re.compile(r"""(?:src|href|action|data|poster)\s*=\s*["']?([^"'\s>]+)""", re.I)


def test_docs_reference_no_other_origin(console_server: ConsoleServer) -> None:
    answer = httpx.get(f"{console_server.url}/docs")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    links = ATTRIBUTE.findall(answer.text)
    assert links, "the page links nothing: the pattern is broken"
    foreign = [link for link in links if re.match(r"^([a-z]+:)?//", link, re.I)]
    assert foreign == []
    assert "@import" not in answer.text and "url(" not in answer.text


def test_docs_carry_the_console_security_headers(console_server: ConsoleServer) -> None:
    answer = httpx.get(f"{console_server.url}/docs")
    for name, value in SECURITY_HEADERS.items():
        if name != "cache-control":
            assert answer.headers[name] == value


def test_docs_list_every_operation_of_the_openapi_document(console_server: ConsoleServer) -> None:
    document = httpx.get(f"{console_server.url}/openapi.json").json()
    page = httpx.get(f"{console_server.url}/docs").text
    for path, operations in document["paths"].items():
        for method in operations:
            assert f"{method.upper()} {path}" in page.replace("&nbsp;", " ")


def test_docs_in_a_browser_fetch_from_this_server_only(
    browser: Browser, console_server: ConsoleServer
) -> None:
    context = browser.new_context()
    tab = context.new_page()
    requested: list[str] = []
    tab.on("request", lambda request: requested.append(request.url))
    tab.goto(f"{console_server.url}/docs")
    tab.get_by_role("heading", name=re.compile("Plaudit API")).wait_for()
    context.close()
    assert requested and all(url.startswith(console_server.url) for url in requested)
