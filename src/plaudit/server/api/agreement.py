"""`GET /v1/agreement`: end users against an evaluator, span by span (docs/agreement.md)."""

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.params import FromQuery

from plaudit.analytics.agreement import agreement
from plaudit.core.access import Scope
from plaudit.core.agreement import AgreementRequest, parse_request
from plaudit.errors import ValidationFailed
from plaudit.server.auth import authenticate, require
from plaudit.server.state import JSON, state_of


def checked_request(params: list[tuple[str, str]]) -> AgreementRequest:
    """The request the query string makes; 422 naming every bad parameter."""
    parsed = parse_request(params, datetime.now(UTC))
    if isinstance(parsed, list):
        details = "; ".join(f"{issue.pointer[1:]}: {issue.message}" for issue in parsed)
        raise ValidationFailed(f"bad parameters: {details}", issues=parsed)
    return parsed


# The parameters are declared for the API document; `checked_request` reads them all from the
# query string, so a missing name or an unknown parameter is a 422 that names it.
@get("/v1/agreement", summary="Agreement between end users and an evaluator", tags=["agreement"])
async def get_agreement(
    request: Request[Any, Any, Any],
    user: FromQuery[str | None] = None,
    evaluator: FromQuery[str | None] = None,
    by: FromQuery[str | None] = None,
    since: FromQuery[str | None] = None,
    until: FromQuery[str | None] = None,
) -> Response[bytes]:
    """Required: `user` (a feedback name end users give) and `evaluator` (the name an
    evaluator scores under). Over the spans with both, the users' mean per span against the
    evaluator's latest value, each read as pass/fail: `{"items": [{"capability", "n",
    "agreement", "kappa", "pearson", "confusion": {"tp", "fp", "fn", "tn"}}]}`. `by=capability`
    gives one item per capability; `since`/`until` take a duration (`7d`) or an RFC 3339 time."""
    state = state_of(request)
    principal = await authenticate(request, state)
    require(principal, Scope.READ)
    wanted = checked_request(list(request.query_params.multi_items()))
    items = await state.read(agreement, principal.project, wanted)
    return Response(msgspec.json.encode({"items": items}), media_type=JSON)
