"""Errors that reach API clients, each an RFC 9457 problem type.

PlauditError (500 internal)
├── BadRequest (400)            body is not what it claims: malformed JSON, bad cursor
├── Unauthorized (401)          no token, unknown or revoked token
├── Forbidden (403)             token lacks the scope, project or origin
├── NotFound (404)
├── Conflict (409)              a name already taken in the project
├── PayloadTooLarge (413)       a named limit was exceeded
├── UnsupportedMediaType (415)
├── ValidationFailed (422)      carries `Issue`s with JSON pointers
├── TooManyRequests (429)       carries retry_after
└── Unavailable (503)           carries retry_after (write queue full, database down)
"""

from typing import ClassVar

from plaudit.core.validation import Issue


class PlauditError(Exception):
    """Base of every error with an HTTP meaning."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        detail: str,
        *,
        issues: list[Issue] | None = None,
        limit: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.issues = issues or []
        self.limit = limit
        self.retry_after = retry_after


class BadRequest(PlauditError):
    """The request body or a parameter cannot be read."""

    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(PlauditError):
    """No valid token."""

    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(PlauditError):
    """The token may not do this."""

    status, slug, title = 403, "forbidden", "Not allowed"


class NotFound(PlauditError):
    """No such resource."""

    status, slug, title = 404, "not-found", "Not found"


class Conflict(PlauditError):
    """The resource already exists (names are unique per project)."""

    status, slug, title = 409, "conflict", "Conflict"


class PayloadTooLarge(PlauditError):
    """A size limit was exceeded; `limit` names it."""

    status, slug, title = 413, "payload-too-large", "Payload too large"


class UnsupportedMediaType(PlauditError):
    """The content type or encoding is not one we read."""

    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class ValidationFailed(PlauditError):
    """The input is well-formed but breaks the rules; `issues` say where and why."""

    status, slug, title = 422, "validation", "Validation failed"


class TooManyRequests(PlauditError):
    """A rate limit was hit."""

    status, slug, title = 429, "rate-limited", "Too many requests"


class Unavailable(PlauditError):
    """Temporarily unable to take the request; retry after `retry_after` seconds."""

    status, slug, title = 503, "unavailable", "Service unavailable"
