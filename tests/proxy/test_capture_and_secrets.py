"""Content capture is a per-project switch; the caller's provider key is never stored or logged."""

import json
import os
import secrets
import subprocess
import time
from pathlib import Path

import httpx
import openai
from sqlalchemy import MetaData, select

from plaudit.core.access import Scope
from plaudit.store.database import create_database_engine
from plaudit.store.tokens import create_token
from tests.conftest import free_port, make_tokens
from tests.e2e.test_durability import _plaudit_command
from tests.proxy.conftest import PROVIDER_KEY, ProxyServer
from tests.proxy.fake_upstream import FakeUpstream

MESSAGES = [{"role": "user", "content": "A secret question"}]


def project_tokens(database_url: str, project: str) -> tuple[str, str]:
    engine = create_database_engine(database_url)
    with engine.begin() as connection:
        admin = create_token(connection, project, frozenset({Scope.ADMIN}), "admin")[1]
        traces = create_token(connection, project, frozenset({Scope.TRACES_WRITE}), "proxy")[1]
    engine.dispose()
    return admin, traces


def test_a_project_can_turn_content_capture_off(proxy_server: ProxyServer) -> None:
    project = f"quiet-{secrets.token_hex(3)}"
    admin, traces = project_tokens(proxy_server.database_url, project)
    admin_headers = {"authorization": f"Bearer {admin}"}
    with httpx.Client(base_url=proxy_server.url, headers=admin_headers) as api:
        changed = api.patch(f"/v1/projects/{project}", json={"capture_content": False})
        assert changed.json() == {"name": project, "capture_content": False}
        listed = {p["name"]: p for p in api.get("/v1/projects").json()["items"]}
        assert listed[project]["capture_content"] is False

        client = openai.OpenAI(
            base_url=proxy_server.base_url,
            api_key=PROVIDER_KEY,
            default_headers={"Plaudit-Auth": f"Bearer {traces}"},
            max_retries=0,
        )
        whole = client.chat.completions.with_raw_response.create(
            model="fake-model",
            messages=MESSAGES,  # type: ignore[arg-type]
        )
        streamed = client.chat.completions.with_raw_response.create(
            model="fake-model",
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
        )
        list(streamed.parse())
        for answer in (whole.http_response, streamed.http_response):
            trace_id, span_id = (
                answer.headers["plaudit-trace-id"],
                answer.headers["plaudit-span-id"],
            )
            attributes = wait_for_span(api, trace_id)["attributes"]
            assert span_id and attributes["gen_ai.response.model"] == "fake-model-2026"
            assert "gen_ai.input.messages" not in attributes
            assert "gen_ai.output.messages" not in attributes
            assert "secret question" not in json.dumps(attributes)


def wait_for_span(api: httpx.Client, trace_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while (answer := api.get(f"/v1/traces/{trace_id}")).status_code != 200:
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.02)
    span: dict[str, object] = answer.json()["spans"][0]
    return span


def test_the_provider_key_is_never_stored_or_logged(
    database_url: str, fake_upstream: tuple[FakeUpstream, str], tmp_path: Path
) -> None:
    _, upstream_url = fake_upstream
    if database_url.startswith("sqlite"):  # a file the module's own server does not hold
        database_url = f"sqlite:///{tmp_path / 'own.db'}"
    _, _, traces = make_tokens(database_url)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAUDIT_")}
    env.update(
        PLAUDIT_PROXY_UPSTREAMS=f"fake={upstream_url}/v1,nowhere=http://127.0.0.1:{free_port()}",
        PLAUDIT_LOG_LEVEL="debug",
        PLAUDIT_ACCESS_LOG="true",
        PLAUDIT_GRPC_PORT="0",
    )
    log = tmp_path / "server.log"
    command = [*_plaudit_command(), "serve", "--database-url", database_url, "--port", str(port)]
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        headers = {"authorization": f"Bearer {PROVIDER_KEY}", "Plaudit-Auth": f"Bearer {traces}"}
        trace_ids = []
        calls = [("fake", "fake-model", False), ("fake", "fake-model", True),
                 ("fake", "error-401", False), ("nowhere", "fake-model", False)]  # fmt: skip
        for upstream, model, stream in calls:
            answer = httpx.post(
                f"{base}/proxy/{upstream}/chat/completions",
                json={"model": model, "messages": MESSAGES, "stream": stream},
                headers=headers,
            )
            trace_ids.append(answer.headers["plaudit-trace-id"])
        with httpx.Client(base_url=base) as api:
            api.headers["authorization"] = f"Bearer {make_tokens(database_url)[0]}"
            for trace_id in trace_ids:
                wait_for_span(api, trace_id)
    finally:
        server.terminate()
        server.wait(timeout=30)
    written = log.read_text() + dump(database_url)
    assert "secret question" in written  # the dump holds the captured messages: it is complete
    assert PROVIDER_KEY not in written
    assert PROVIDER_KEY[-12:] not in written
    # and byte for byte in every file the server wrote (the SQLite file and its journal too)
    for path in tmp_path.iterdir():
        if path.is_file():
            assert PROVIDER_KEY[-12:].encode() not in path.read_bytes(), path.name


def dump(database_url: str) -> str:
    """Every row of every table, as text."""
    engine = create_database_engine(database_url)
    tables = MetaData()
    tables.reflect(engine)
    with engine.connect() as connection:
        rows = [
            repr(row) for table in tables.sorted_tables for row in connection.execute(select(table))
        ]
    engine.dispose()
    return "\n".join(rows)
