"""Administration: projects, tokens and feedback configs (admin scope)."""

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, post, put
from litestar.params import FromPath

from plaudit.core.access import Principal, Scope
from plaudit.core.configs import FeedbackConfig
from plaudit.core.validation import Issue
from plaudit.errors import BadRequest, NotFound, ValidationFailed
from plaudit.server.api.feedback import JSON, state_of
from plaudit.server.auth import authenticate, require
from plaudit.store.configs import delete_config, list_configs, put_config
from plaudit.store.tokens import (
    create_token,
    ensure_project,
    list_projects,
    list_tokens,
    revoke_token,
)
from plaudit.store.writer import Call

ProjectName = Annotated[
    str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")
]


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    """A token to create."""

    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1)]
    name: Annotated[str, msgspec.Meta(max_length=256)] = ""
    origins: list[Annotated[str, msgspec.Meta(max_length=512)]] | None = None


class ProjectIn(msgspec.Struct, forbid_unknown_fields=True):
    """A project to create."""

    name: ProjectName


def _decode(body: bytes, kind: type[Any]) -> Any:
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as error:
        raise ValidationFailed(str(error), issues=[Issue("/", str(error))]) from None
    except (msgspec.DecodeError, RecursionError):
        raise BadRequest("the body is not valid JSON") from None


async def _admin(request: Request[Any, Any, Any]) -> Principal:
    principal = await authenticate(request, state_of(request))
    require(principal, Scope.ADMIN)
    return principal


@get("/v1/projects", summary="List projects", tags=["admin"])
async def get_projects(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Every project."""
    state = state_of(request)
    await _admin(request)

    items = await state.read(list_projects)
    return Response(msgspec.json.encode({"items": items, "next_cursor": None}), media_type=JSON)


@post("/v1/projects", summary="Create a project", tags=["admin"], status_code=201)
async def post_project(
    request: Request[Any, Any, Any],
) -> dict[str, str]:
    """Creates the project if it does not exist."""
    await _admin(request)
    project: ProjectIn = _decode(await request.body(), ProjectIn)
    await state_of(request).writer.write(Call(lambda c: ensure_project(c, project.name)))
    return {"name": project.name}


@get("/v1/tokens", summary="List the project's tokens (never their secrets)", tags=["admin"])
async def get_tokens(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Tokens of the caller's project."""
    state = state_of(request)
    principal = await _admin(request)

    items = await state.read(list_tokens, principal.project)
    return Response(msgspec.json.encode({"items": items, "next_cursor": None}), media_type=JSON)


@post(
    "/v1/tokens",
    summary="Create a token; its secret is in this answer only",
    tags=["admin"],
    status_code=201,
)
async def post_token(
    request: Request[Any, Any, Any],
) -> dict[str, Any]:
    """A `feedback:write`-only token is browser-safe (`pk_`); any other is secret (`sk_`)."""
    state = state_of(request)
    principal = await _admin(request)
    token: TokenIn = _decode(await request.body(), TokenIn)
    scopes = frozenset(token.scopes)
    token_id, secret = await state.writer.write(
        Call(lambda c: create_token(c, principal.project, scopes, token.name, token.origins))
    )
    state.tokens.clear()
    return {"id": token_id, "token": secret, "project": principal.project, "scopes": sorted(scopes)}


@delete("/v1/tokens/{token_id:str}", summary="Revoke a token", tags=["admin"], status_code=204)
async def delete_token(request: Request[Any, Any, Any], token_id: FromPath[str]) -> None:
    """The token stops working at once on this server (within seconds elsewhere)."""
    state = state_of(request)
    principal = await _admin(request)
    if not await state.writer.write(Call(lambda c: revoke_token(c, token_id, principal.project))):
        raise NotFound(f"no live token {token_id!r} in project {principal.project!r}")
    state.tokens.clear()


@get("/v1/feedback-configs", summary="List feedback configs", tags=["admin"])
async def get_configs(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Declared feedback names of the caller's project."""
    state = state_of(request)
    principal = await authenticate(request, state)
    require(principal, Scope.READ)

    items = await state.read(list_configs, principal.project)
    return Response(msgspec.json.encode({"items": items, "next_cursor": None}), media_type=JSON)


@put("/v1/feedback-configs/{name:str}", summary="Declare a feedback name", tags=["admin"])
async def put_feedback_config(
    request: Request[Any, Any, Any],
    name: FromPath[str],
) -> Response[bytes]:
    """Create or replace the config; later feedback with this name is checked against it."""
    state = state_of(request)
    principal = await _admin(request)
    data = await request.body()
    raw = _decode(data, Any) if data else {}
    if isinstance(raw, dict):
        raw.setdefault("name", name)
    config: FeedbackConfig = _decode(msgspec.json.encode(raw), FeedbackConfig)
    if config.name != name:
        raise ValidationFailed(
            "name mismatch", issues=[Issue("/name", "must match the name in the path")]
        )
    if problem := config.problem_with_itself():
        raise ValidationFailed(problem, issues=[Issue("/", problem)])
    await state.writer.write(Call(lambda c: put_config(c, principal.project, config)))
    state.configs.clear()
    return Response(msgspec.json.encode(config), media_type=JSON)


@delete(
    "/v1/feedback-configs/{name:str}",
    summary="Remove a feedback config",
    tags=["admin"],
    status_code=204,
)
async def delete_feedback_config(request: Request[Any, Any, Any], name: FromPath[str]) -> None:
    """Feedback with this name is then accepted and inferred like any undeclared name."""
    state = state_of(request)
    principal = await _admin(request)
    if not await state.writer.write(Call(lambda c: delete_config(c, principal.project, name))):
        raise NotFound(f"no config {name!r} in project {principal.project!r}")
    state.configs.clear()
