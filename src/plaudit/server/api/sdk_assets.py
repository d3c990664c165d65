"""`/sdk/plaudit-feedback.js`: the browser client, served so pages can use it without npm.

The file is the esbuild output of `clients/js`, committed under `plaudit/server/static/`; a test
checks that a fresh build produces the same bytes.
"""

import hashlib
from functools import cache
from importlib.resources import files
from typing import Any, Final

from litestar import Request, Response, get

SCRIPT: Final = "plaudit-feedback.js"
# Not immutable: the URL carries no version, so an upgraded server must reach browsers within
# the hour; the ETag makes the revalidation after that cheap.
CACHE_CONTROL: Final = "public, max-age=3600"


@cache
def _script() -> tuple[bytes, str]:
    body = files("plaudit.server").joinpath("static", SCRIPT).read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@get("/sdk/plaudit-feedback.js", include_in_schema=False)
async def browser_client(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The browser feedback client as an ES module (304 when the browser's copy is current)."""
    body, etag = _script()
    headers = {"cache-control": CACHE_CONTROL, "etag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(b"", status_code=304, headers=headers)
    return Response(body, media_type="application/javascript; charset=utf-8", headers=headers)
