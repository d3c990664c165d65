"""Administration: projects, tokens and feedback configs (admin scope)."""

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, patch, post, put
from litestar.params import FromPath
from sqlalchemy import Connection

from plaudit.core import limits
from plaudit.core.access import SERVER_PROJECT, Principal, Scope
from plaudit.core.configs import FeedbackConfig
from plaudit.core.privacy import PiiMode
from plaudit.core.validation import Issue
from plaudit.errors import Forbidden, NotFound, ValidationFailed
from plaudit.server.auth import authenticate, require
from plaudit.server.bodies import decode_json, json_body
from plaudit.server.state import JSON, state_of
from plaudit.store.configs import delete_config, list_configs, put_config
from plaudit.store.projects import (
    ensure_project,
    list_projects,
    set_capture_content,
    set_pii_mode,
)
from plaudit.store.tokens import create_token, list_tokens, revoke_token
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
    """A project to create; `pii` sets what happens to PII found in its feedback text."""

    name: ProjectName
    pii: PiiMode | None = None


class ProjectSettings(msgspec.Struct, forbid_unknown_fields=True):
    """Settings of a project to change; those left out keep their value."""

    pii: PiiMode | None = None
    # Whether proxied calls keep their messages (docs/proxy.md).
    capture_content: bool | None = None


def checked_name(name: str) -> str:
    """A feedback name from a path, refused when it could never have been stored."""
    if "\x00" in name or not 0 < len(name) <= limits.MAX_NAME_CHARS:
        problem = f"must be 1 to {limits.MAX_NAME_CHARS} characters without NUL"
        raise ValidationFailed(f"/name: {problem}", issues=[Issue("/name", problem)])
    return name


async def _admin(request: Request[Any, Any, Any]) -> Principal:
    principal = await authenticate(request, state_of(request))
    require(principal, Scope.ADMIN)
    return principal


@get("/v1/projects", summary="List projects", tags=["admin"])
async def get_projects(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Every project for a server-wide admin (of project `default`); the caller's own otherwise."""
    state = state_of(request)
    principal = await _admin(request)

    items = await state.read(list_projects)
    if not principal.server_admin:
        items = [item for item in items if item["name"] == principal.project]
    return Response(msgspec.json.encode({"items": items, "next_cursor": None}), media_type=JSON)


@post("/v1/projects", summary="Create a project", tags=["admin"], status_code=201)
async def post_project(
    request: Request[Any, Any, Any],
) -> dict[str, str]:
    """Creates the project if it does not exist; only a server-wide admin (of project `default`)
    creates other projects than its own."""
    principal = await _admin(request)
    project: ProjectIn = decode_json(
        await request.body(), ProjectIn, request.headers.get("content-type")
    )
    if project.name != principal.project and not principal.server_admin:
        raise Forbidden(
            f"this token administers project {principal.project!r}: only an admin token of "
            f"project {SERVER_PROJECT!r} creates other projects"
        )
    pii = project.pii
    if pii is not None and project.name != principal.project:
        raise Forbidden(
            f"this token administers project {principal.project!r}: it cannot set the PII mode "
            f"of {project.name!r}"
        )

    def create(connection: Connection) -> None:
        ensure_project(connection, project.name)
        if pii is not None:
            set_pii_mode(connection, project.name, pii)

    state = state_of(request)
    await state.writer.write(Call(create))
    state.configs.clear()  # the write path reads the PII mode through this cache
    return {"name": project.name} if pii is None else {"name": project.name, "pii": pii.value}


@patch("/v1/projects/{name:str}", summary="Change a project's settings", tags=["admin"])
async def patch_project(request: Request[Any, Any, Any], name: FromPath[str]) -> dict[str, Any]:
    """`{"pii": "redact" | "flag" | "off"}`: what happens to PII found in feedback text from now
    on (docs/privacy.md); `{"capture_content": false}`: proxied calls keep no messages
    (docs/proxy.md). An admin token changes its own project only."""
    principal = await _admin(request)
    if name != principal.project:
        raise Forbidden(f"this token administers project {principal.project!r}, not {name!r}")
    settings: ProjectSettings = await json_body(request, ProjectSettings)
    if settings.pii is None and settings.capture_content is None:
        problem = "give a setting to change: `pii` or `capture_content`"
        raise ValidationFailed(problem, issues=[Issue("/pii", problem)])
    state = state_of(request)
    await state.writer.write(Call(lambda c: _change_project(c, name, settings)))
    state.configs.clear()  # the write path reads the PII mode through this cache
    changed: dict[str, Any] = {"name": name}
    if settings.pii is not None:
        changed["pii"] = settings.pii.value
    if settings.capture_content is not None:
        changed["capture_content"] = settings.capture_content
    return changed


def _change_project(connection: Connection, name: str, settings: ProjectSettings) -> None:
    if settings.pii is not None:
        set_pii_mode(connection, name, settings.pii)
    if settings.capture_content is not None:
        set_capture_content(connection, name, settings.capture_content)


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
    token: TokenIn = await json_body(request, TokenIn)
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
    if "\x00" in token_id:
        raise NotFound("no such token")
    if not await state.writer.write(Call(lambda c: revoke_token(c, token_id, principal.project))):
        raise NotFound(f"no live token {token_id!r} in project {principal.project!r}")
    state.tokens.clear()
    state.console_sessions.clear()  # console sessions signed in with it end at once too


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
    content_type = request.headers.get("content-type")
    raw = await json_body(request, dict[str, Any])
    raw.setdefault("name", checked_name(name))
    config = decode_json(msgspec.json.encode(raw), FeedbackConfig, content_type)
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
    name = checked_name(name)
    if not await state.writer.write(Call(lambda c: delete_config(c, principal.project, name))):
        raise NotFound(f"no config {name!r} in project {principal.project!r}")
    state.configs.clear()
