"""The one error shape: RFC 9457 `application/problem+json`, for every error but OTLP's."""

import logging
from http import HTTPStatus
from typing import Any, Final

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from sqlalchemy.exc import DBAPIError

from plaudit.errors import PlauditError, Unavailable
from plaudit.server.logs import database_error

PROBLEM_JSON: Final = "application/problem+json"
log = logging.getLogger(__name__)


def database_unavailable(error: Exception) -> Unavailable:
    """A database that cannot be reached (or answer in time) is a 503 to retry, not a bug.

    Only the error's type is logged: its text can hold the statement's parameters, which are
    users' feedback.
    """
    log.warning("database unavailable: %s", type(getattr(error, "orig", error)).__name__)
    return Unavailable("the database is unavailable; retry shortly", retry_after=5)


def problem_body(error: PlauditError, instance: str | None = None) -> dict[str, Any]:
    """The problem document of an error."""
    body: dict[str, Any] = {
        "type": f"/problems/{error.slug}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
    }
    if instance:
        body["instance"] = instance
    if error.limit:
        body["limit"] = error.limit
    if error.issues:
        body["errors"] = [
            {
                "pointer": issue.pointer,
                "detail": issue.message,
                **({"limit": issue.limit} if issue.limit else {}),
            }
            for issue in error.issues
        ]
    return body


def problem_response(error: PlauditError, instance: str | None = None) -> Response[bytes]:
    """An error as a problem+json response (with Retry-After where it applies)."""
    headers = {"retry-after": str(error.retry_after)} if error.retry_after else None
    return Response(
        msgspec.json.encode(problem_body(error, instance)),
        status_code=error.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def handle_plaudit_error(request: Request[Any, Any, Any], error: PlauditError) -> Response[bytes]:
    """Exception handler for our own errors."""
    return problem_response(error, request.url.path)


_FRAMEWORK_SLUGS: Final = {
    400: "bad-request",
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
}


def handle_http_exception(request: Request[Any, Any, Any], error: HTTPException) -> Response[bytes]:
    """Exception handler for the framework's errors (404 route, 405 method, 413, bad parameters)."""
    slug = _FRAMEWORK_SLUGS.get(error.status_code, "http-error")
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": _status_phrase(error.status_code),
        "status": error.status_code,
        "detail": _framework_detail(error),
        "instance": request.url.path,
    }
    if issues := _framework_issues(error):
        body["errors"] = issues
        body["detail"] = "; ".join(f"{i['pointer']}: {i['detail']}" for i in issues)
    return Response(
        msgspec.json.encode(body),
        status_code=error.status_code,
        media_type=PROBLEM_JSON,
        headers=dict(error.headers or {}),
    )


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "HTTP error"


def _framework_issues(error: HTTPException) -> list[dict[str, str]]:
    """The framework's per-parameter validation messages, as problem `errors`."""
    extra = error.extra if isinstance(error.extra, list) else []
    issues = []
    for item in extra:
        if isinstance(item, dict) and item.get("key"):
            message = str(item.get("message") or "is invalid")
            pointer = "/" if str(item.get("source")) == "body" else "/" + str(item["key"])
            issues.append({"pointer": pointer, "detail": message[:1].lower() + message[1:]})
    return issues


def _framework_detail(error: HTTPException) -> str:
    if error.status_code == 404:
        return "no such path; see /docs for the API"
    if error.status_code == 405:
        return "this path does not take that method; see /docs"
    return str(error.detail)


def handle_unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    """Last resort: log the bug, answer a problem without internals."""
    if isinstance(error, DBAPIError):
        where = (request.method, request.url.path, database_error(error))
        log.error("database error on %s %s: %s", *where)
    else:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
    body = {
        "type": "/problems/internal",
        "title": "Internal server error",
        "status": 500,
        "detail": "the server failed; the error is in its log",
        "instance": request.url.path,
    }
    return Response(msgspec.json.encode(body), status_code=500, media_type=PROBLEM_JSON)
