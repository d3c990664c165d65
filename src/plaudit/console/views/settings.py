"""`/settings`: the project's tokens (a new secret is shown once), feedback configs, PII mode and
origins.

Changes go through the writer, as the admin API's do, and clear the server's caches so they take
effect at once. Every post is CSRF-checked by `checked_form`.
"""

from typing import Any, Final

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath
from sqlalchemy import Connection

from plaudit.console.pages import ConfigRow, SettingsPage, TokenRow
from plaudit.console.render import html, is_htmx, started, when
from plaudit.console.views.common import checked_form, chrome, signed_in
from plaudit.core.access import Scope
from plaudit.core.configs import FeedbackConfig
from plaudit.core.feedback import Kind
from plaudit.core.privacy import PiiMode
from plaudit.store.configs import delete_config, list_configs, put_config
from plaudit.store.projects import pii_mode, set_pii_mode
from plaudit.store.tokens import create_token, list_tokens, revoke_token
from plaudit.store.writer import Call

SCOPES: Final = tuple(s.value for s in Scope)


def _listing(connection: Connection, project: str) -> tuple[list[Any], list[Any], PiiMode]:
    return (
        list_tokens(connection, project),
        list_configs(connection, project),
        pii_mode(connection, project),
    )


def _config_row(raw: dict[str, Any]) -> ConfigRow:
    low, high = raw.get("min"), raw.get("max")
    bounds = ""
    if low is not None or high is not None:
        bounds = f"{'…' if low is None else low} – {'…' if high is None else high}"
    return ConfigRow(
        name=raw["name"],
        kind=raw["kind"],
        values=", ".join(raw.get("enum_values") or []),
        range=bounds,
        description=raw.get("description", ""),
    )


def _token_row(raw: dict[str, Any]) -> TokenRow:
    return TokenRow(
        id=raw["id"],
        name=raw["name"],
        scopes=", ".join(raw["scopes"]),
        origins=", ".join(raw["origins"] or []) or "server default",
        created_at=when(raw["created_at"]),
        revoked=raw["revoked_at"] is not None,
    )


async def _render(
    request: Request[Any, Any, Any], focus: str, since: float, **extra: Any
) -> Response[str]:
    """The page, or for htmx only the section a form changed (tokens, configs or privacy)."""
    state, session = signed_in(request)
    tokens, configs, mode = await state.read(_listing, session.project)
    context = SettingsPage(
        tokens=[_token_row(t) for t in tokens],
        configs=[_config_row(c) for c in configs],
        server_origins=list(state.settings.cors_origins),
        scopes=SCOPES,
        kinds=tuple(k.value for k in Kind),
        pii_mode=mode.value,
        pii_modes=tuple(m.value for m in PiiMode),
        **extra,
    )
    frame = chrome(session, "Settings", "settings")
    status = 422 if extra.get("error") else 200
    # htmx swaps an error answer only when told to; a 200 keeps the message in the section.
    if is_htmx(request):
        return html(f"_{focus}.html", since, chrome=frame, page=context, focus=focus)
    return html("settings.html", since, status=status, chrome=frame, page=context, focus=focus)


@get("/settings", include_in_schema=False)
async def settings_page(request: Request[Any, Any, Any]) -> Response[str]:
    """Tokens, configs, origins."""
    since = started()
    return await _render(request, "", since)


def _lines(text: str) -> list[str]:
    return [part.strip() for part in text.replace(",", "\n").splitlines() if part.strip()]


@post("/settings/tokens", include_in_schema=False, status_code=200)
async def create_token_form(request: Request[Any, Any, Any]) -> Response[str]:
    """Create a token and show its secret in this answer only."""
    since = started()
    state, session, fields = await checked_form(request)
    scopes = frozenset(Scope(s) for s in fields.getall("scope") if s in SCOPES)
    if not scopes:
        return await _render(request, "tokens", since, error="Choose a scope.")
    name = fields.get("name", "")[:256]
    origins = _lines(fields.get("origins", "")) or None
    project = session.project
    _, secret = await state.writer.write(
        Call(lambda c: create_token(c, project, scopes, name, origins))
    )
    state.tokens.clear()
    message = "Token created. Copy it now: it is not shown again."
    return await _render(request, "tokens", since, created_secret=secret, message=message)


@post("/settings/tokens/{token_id:str}/revoke", include_in_schema=False, status_code=200)
async def revoke_token_form(
    request: Request[Any, Any, Any], token_id: FromPath[str]
) -> Response[str]:
    """Revoke a token at once."""
    since = started()
    state, session, _ = await checked_form(request)
    project = session.project
    done = await state.writer.write(Call(lambda c: revoke_token(c, token_id, project)))
    state.tokens.clear()
    state.console_sessions.clear()  # console sessions signed in with it end at once too
    if not done:
        return await _render(request, "tokens", since, error="No such live token.")
    return await _render(request, "tokens", since, message="Token revoked.")


def _config(fields: dict[str, str]) -> FeedbackConfig:
    raw: dict[str, Any] = {"name": fields.get("name", "").strip(), "kind": fields.get("kind", "")}
    if description := fields.get("description", "").strip():
        raw["description"] = description
    if values := _lines(fields.get("enum_values", "")):
        raw["enum_values"] = values
    for bound in ("min", "max"):
        if text := fields.get(bound, "").strip():
            raw[bound] = float(text)
    return msgspec.convert(raw, FeedbackConfig)


@post("/settings/configs", include_in_schema=False, status_code=200)
async def put_config_form(request: Request[Any, Any, Any]) -> Response[str]:
    """Declare (or replace) a feedback name."""
    since = started()
    state, session, fields = await checked_form(request)
    try:
        config = _config(fields)
    except (ValueError, msgspec.ValidationError) as error:
        return await _render(request, "configs", since, error=f"Config: {error}")
    if problem := config.problem_with_itself():
        return await _render(request, "configs", since, error=f"Config: {problem}")
    project = session.project
    await state.writer.write(Call(lambda c: put_config(c, project, config)))
    state.configs.clear()
    return await _render(request, "configs", since, message=f"Saved {config.name}.")


@post("/settings/configs/{name:str}/delete", include_in_schema=False, status_code=200)
async def delete_config_form(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[str]:
    """Remove a feedback config."""
    since = started()
    state, session, _ = await checked_form(request)
    project = session.project
    await state.writer.write(Call(lambda c: delete_config(c, project, name)))
    state.configs.clear()
    return await _render(request, "configs", since, message=f"Removed {name}.")


@post("/settings/privacy", include_in_schema=False, status_code=200)
async def pii_mode_form(request: Request[Any, Any, Any]) -> Response[str]:
    """Choose what happens to PII found in feedback text from now on."""
    since = started()
    state, session, fields = await checked_form(request)
    try:
        mode = PiiMode(fields.get("pii", ""))
    except ValueError:
        return await _render(request, "privacy", since, error="Choose redact, flag or off.")
    project = session.project
    await state.writer.write(Call(lambda c: set_pii_mode(c, project, mode)))
    state.configs.clear()  # the write path reads the PII mode through this cache
    return await _render(request, "privacy", since, message=f"PII mode is now {mode.value}.")
