"""`/docs`: the API reference as a page of our own, rendered on the server from the OpenAPI
document.

The framework's documentation pages load their script from a CDN, unpinned and without an
integrity check, on the same origin as the console: whoever served that script could act as a
signed-in console user. This page needs no script of its own, loads only the console's static
files and is sent with the console's security headers (scripts from this server only).
"""

import copy
from typing import Any, Final

from litestar import Request, Router
from litestar.datastructures import ResponseHeader
from litestar.openapi.plugins import OpenAPIRenderPlugin

from plaudit.console.pages import ApiDocsPage, ApiOperation, ApiParameter, Chrome
from plaudit.console.render import SECURITY_HEADERS, render

METHODS: Final = ("get", "post", "put", "patch", "delete")


def _schema_name(schema: dict[str, Any]) -> str:
    """A short name for a body schema: the component it refers to, or its type."""
    if ref := schema.get("$ref"):
        return str(ref).rsplit("/", 1)[-1]
    if options := schema.get("oneOf") or schema.get("anyOf"):
        return " or ".join(_schema_name(option) for option in options)
    return str(schema.get("type", "object"))


def _body(operation: dict[str, Any]) -> str:
    content: dict[str, Any] = operation.get("requestBody", {}).get("content", {})
    return "; ".join(
        f"{media} ({_schema_name(spec.get('schema', {}))})" for media, spec in content.items()
    )


def _operation(path: str, method: str, operation: dict[str, Any]) -> ApiOperation:
    parameters = [
        ApiParameter(p["name"], p.get("in", ""), bool(p.get("required")), p.get("description", ""))
        for p in operation.get("parameters", [])
    ]
    responses = [
        (status, str(answer.get("description", "")))
        for status, answer in operation.get("responses", {}).items()
    ]
    return ApiOperation(
        method=method,
        path=path,
        summary=operation.get("summary", ""),
        description=(operation.get("description") or "").strip(),
        parameters=parameters,
        body=_body(operation),
        responses=responses,
    )


def docs_page(document: dict[str, Any]) -> ApiDocsPage:
    """The page's context: every operation of `document`, grouped by its first tag."""
    groups: dict[str, list[ApiOperation]] = {}
    for path, operations in sorted(document.get("paths", {}).items()):
        for method in METHODS:
            if (operation := operations.get(method)) is not None:
                tag = (operation.get("tags") or ["other"])[0]
                groups.setdefault(tag, []).append(_operation(path, method, operation))
    info = document.get("info", {})
    return ApiDocsPage(
        title=info.get("title", "Plaudit"),
        version=info.get("version", ""),
        description=info.get("description", ""),
        groups=sorted(groups.items()),
    )


class ApiDocsPlugin(OpenAPIRenderPlugin):
    """Serves the page at the OpenAPI path (`/docs`), rendered once per process."""

    def __init__(self) -> None:
        super().__init__(path="/")
        self._html: bytes | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The page for this app's OpenAPI document (the same one `/openapi.json` serves)."""
        if self._html is None:
            from plaudit.server.openapi import complete  # the server's document, completed

            document = complete(copy.deepcopy(openapi_schema))
            chrome = Chrome(title="API reference", nav="docs", signed_in=False)
            self._html = render("api_docs.html", chrome=chrome, page=docs_page(document)).encode()
        return self._html

    def receive_router(self, router: Router) -> None:
        """Send the console's security headers (CSP: scripts from this server only)."""
        router.response_headers = [
            *(router.response_headers or ()),
            *(ResponseHeader(name=name, value=value) for name, value in SECURITY_HEADERS.items()),
        ]
