"""Console form bodies: small, urlencoded, read and parsed without holding the event loop.

The framework's form parser reads any size and spends seconds on a few MiB on the event loop, so
an anonymous `POST /login` could stall every request. Console forms are a handful of short
fields: the body is read within `MAX_FORM_BYTES` (413 past it, before reading on when the
declared length says so), and parsed by the standard library with a field cap. Callers run their
cheap checks (sign-in nonce, session) before asking for the body.
"""

from typing import Any, Final
from urllib.parse import parse_qsl

from litestar import Request

from plaudit.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from plaudit.server.bodies import read_body

MAX_FORM_BYTES: Final = 64 * 1024
MAX_FORM_FIELDS: Final = 100
URLENCODED: Final = "application/x-www-form-urlencoded"


class FormFields(dict[str, str]):
    """A posted form: the last value of each field, and every value of a repeated one."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs

    def getall(self, name: str) -> list[str]:
        """Every value of `name`, in order (checkboxes)."""
        return [value for key, value in self.pairs if key == name]


def parse_form(body: bytes) -> FormFields:
    """An urlencoded body as fields; 413 past `MAX_FORM_FIELDS`, 400 when not UTF-8."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the form is not UTF-8") from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise PayloadTooLarge(
            f"a console form has at most {MAX_FORM_FIELDS} fields", limit="console_form_fields"
        ) from None
    return FormFields(pairs)


async def read_form(request: Request[Any, Any, Any]) -> FormFields:
    """The request's urlencoded form (415 for any other body, 413 past the limits)."""
    media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media not in (URLENCODED, ""):
        raise UnsupportedMediaType(f"console forms are {URLENCODED}, not {media}")
    body = await read_body(request, MAX_FORM_BYTES, "console_form_bytes")
    if media == "" and body:
        raise UnsupportedMediaType(f"send Content-Type {URLENCODED}")
    return parse_form(body)
