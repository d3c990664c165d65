"""The ingest routes served ahead of the framework's routing answer exactly as it would.

`POST /v1/feedback` and `POST /v1/traces` run from `ProxyFirst.ahead`; the same server with an
empty `ahead` sends them through the framework's routing, middleware and exception handling.
Every answer (status, headers but `date`, body) must be the same both ways.
"""

import json
from pathlib import Path
from typing import Any

import httpx

from plaudit.server.app import create_app
from plaudit.settings import Settings
from tests.conftest import free_port, fresh_database, make_tokens, serving_app

ALLOWED = "http://allowed.example"
EVENT = {"id": "e1", "trace_id": "ab" * 16, "name": "quality", "value": "up"}


def _cases(admin: str, browser: str, otlp: str) -> list[tuple[str, dict[str, str], bytes]]:
    as_json = {"content-type": "application/json"}
    with_admin = {**as_json, "authorization": f"Bearer {admin}"}
    with_browser = {**as_json, "authorization": f"Bearer {browser}", "origin": ALLOWED}
    with_otlp = {"authorization": f"Bearer {otlp}"}
    event, batch = json.dumps(EVENT).encode(), json.dumps({"feedback": [EVENT, {"name": 3}]})
    return [
        ("/v1/feedback", with_admin, event),  # created
        ("/v1/feedback", with_admin, event),  # duplicate
        ("/v1/feedback", with_admin, batch.encode()),  # one duplicate, one rejected
        ("/v1/feedback", with_admin, json.dumps({**EVENT, "value": "sideways"}).encode()),
        ("/v1/feedback", with_admin, json.dumps({"name": "q", "value": "up"}).encode()),
        ("/v1/feedback", with_admin, b"{not json"),
        ("/v1/feedback", {**with_admin, "content-type": "application/xml"}, b"<a/>"),
        ("/v1/feedback", with_admin, b"[" * 100_000),
        ("/v1/feedback", as_json, event),  # no token
        ("/v1/feedback", {**as_json, "authorization": "Basic eDp5"}, event),
        ("/v1/feedback", {**as_json, "authorization": f"Bearer {otlp}"}, event),  # no scope
        ("/v1/feedback", {**with_browser, "origin": "http://elsewhere.example"}, event),
        ("/v1/feedback", {**as_json, "origin": ALLOWED}, event),  # CORS headers on a 401
        *[("/v1/feedback", with_browser, event)] * 4,  # the last ones are rate limited (429)
        ("/v1/traces", {**with_otlp, **as_json}, b'{"resourceSpans": []}'),
        ("/v1/traces", {**with_otlp, "content-type": "application/x-protobuf"}, b"\xff\xff"),
        ("/v1/traces", {**with_otlp, **as_json}, b"{"),
        ("/v1/traces", {**with_otlp, "content-type": "text/html"}, b"{}"),
        ("/v1/traces", as_json, b"{}"),
        ("/v1/traces", {**as_json, "authorization": f"Bearer {browser}"}, b"{}"),
    ]


def _answers(dialect: str, folder: Path, ahead: bool) -> list[tuple[int, dict[str, str], Any]]:
    with fresh_database(dialect, folder) as url:
        tokens = make_tokens(url)
        port = free_port()
        settings = Settings(
            database_url=url,
            port=port,
            grpc_port=0,
            cors_origins=(ALLOWED,),
            rate_limit_token_burst=2,
            rate_limit_token_per_second=0.01,
        )
        app = create_app(settings)
        assert set(app.ahead) == {("POST", "/v1/feedback"), ("POST", "/v1/traces")}
        if not ahead:
            app.ahead = {}
        answers = []
        with serving_app(app, port) as base, httpx.Client(base_url=base, timeout=30) as client:
            for path, headers, body in _cases(*tokens):
                response = client.post(path, headers=headers, content=body)
                kept = {k: v for k, v in response.headers.items() if k != "date"}
                answers.append((response.status_code, kept, response.content))
        return answers


def test_the_ingest_routes_answer_as_the_framework_does(dialect: str, tmp_path: Path) -> None:
    ahead = _answers(dialect, tmp_path / "ahead", ahead=True)
    framework = _answers(dialect, tmp_path / "framework", ahead=False)
    assert [status for status, _, _ in ahead] == [status for status, _, _ in framework]
    assert {429, 200, 400, 401, 403, 415, 422} <= {status for status, _, _ in ahead}
    for seen, expected in zip(ahead, framework, strict=True):
        assert seen == expected
