"""Tokens and access (DESIGN §5): who may do what, browser origins, the token CLI, dev mode's
loopback rule, and secrets kept out of logs.
"""

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from plaudit.core.access import Scope
from plaudit.store.database import create_database_engine
from plaudit.store.schema import tokens
from plaudit.store.tokens import create_token
from tests.conftest import LiveServer, free_port, make_tokens

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
PROBLEM = "application/problem+json"
ALLOWED = "http://allowed.example"  # the server-wide default origin of the live_server fixture
EVIL = "http://evil.example"
SHOP = "http://shop.example"


def plaudit_command() -> str:
    """The `plaudit` script of the Python running the tests."""
    beside = Path(sys.executable).with_name("plaudit")
    found = str(beside) if beside.exists() else shutil.which("plaudit")
    assert found, "the plaudit script is not installed"
    return found


def secret_part(token: str) -> str:
    """The random part of a token (`pk_<id>_<random>`); the id is public, this is not."""
    return token.split("_", 2)[2]


def event(**fields: Any) -> dict[str, Any]:
    return {"name": "response-quality", "trace_id": TRACE, "value": "up", **fields}


def refused(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"].startswith("/problems/") and body["detail"]
    return body


class Http:
    """Requests to the live server with a given token (or none) and no default headers."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def __call__(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        return self.client.request(method, path, headers=headers, **kwargs)


@pytest.fixture(scope="module")
def http(live_server: LiveServer) -> Iterator[Http]:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield Http(client)


@pytest.fixture(scope="module")
def api(live_server: LiveServer) -> Iterator[httpx.Client]:
    """The admin client, shared by the module (a new client per test costs ~40 ms)."""
    with live_server.client() as client:
        yield client


def new_token(api: httpx.Client, *scopes: str, origins: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"scopes": list(scopes), "name": "test"}
    if origins is not None:
        body["origins"] = origins
    response = api.post("/v1/tokens", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# Routes anyone may call: probes for orchestrators and Prometheus, which carry no token.
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
# What a browser-safe (pk_) token may do: write feedback, nothing else.
BROWSER_MAY = {("POST", "/v1/feedback")}
# OTLP receivers answer errors in OTLP's own shape (a google.rpc.Status), as exporters expect.
OTLP_RECEIVERS = {("POST", "/v1/traces"), ("POST", "/v1/logs"), ("POST", "/v1/metrics")}
PATH_VALUES = {"event_id": "some-id", "trace_id": TRACE, "span_id": SPAN, "token_id": "tok",
               "run_id": "run-1", "example_id": "ex-1", "item_id": "item-1",
               "name": "stars"}  # fmt: skip
METHODS = {"get", "post", "put", "patch", "delete"}


@dataclass(frozen=True)
class Route:
    """One operation of the server's own OpenAPI document, made callable."""

    method: str
    template: str
    body: bool

    @property
    def path(self) -> str:
        return self.template.format(**PATH_VALUES)

    def call(self, http: Http, token: str | None = None, **kwargs: Any) -> httpx.Response:
        if self.body:
            kwargs.setdefault("json", {})
        return http(self.method, self.path, token, **kwargs)

    def expect_refused(self, response: httpx.Response, status: int) -> str | None:
        """Why the answer is not the refusal `status` (None when it is)."""
        if response.status_code != status:
            return f"{self.method} {self.template}: {response.status_code} {response.text[:200]}"
        if (self.method, self.template) in OTLP_RECEIVERS:
            return None  # OTLP answers errors as a google.rpc.Status, not problem+json
        if response.headers["content-type"] != PROBLEM:
            return f"{self.method} {self.template}: {response.headers['content-type']}"
        return None


@pytest.fixture(scope="module")
def routes(http: Http) -> list[Route]:
    """Every operation the running server documents (new routes are covered unasked)."""
    document = http("GET", "/openapi.json").json()
    found = [
        Route(
            method.upper(), path, "requestBody" in operation or method in ("post", "put", "patch")
        )
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in METHODS
    ]
    assert {("GET", "/v1/feedback"), ("POST", "/v1/tokens")} <= {
        (r.method, r.template) for r in found
    }
    return found


def guarded(routes: list[Route]) -> list[Route]:
    return [r for r in routes if (r.method, r.template) not in PUBLIC]


BEACON = {"content-type": "text/plain"}


def test_no_token_is_401_on_every_documented_route(http: Http, routes: list[Route]) -> None:
    wrong = [r.expect_refused(r.call(http), 401) for r in guarded(routes)]
    assert [w for w in wrong if w] == []


def test_public_routes_need_no_token(http: Http, routes: list[Route]) -> None:
    for route in routes:
        if (route.method, route.template) in PUBLIC:
            assert route.call(http).status_code == 200, route


@pytest.mark.parametrize(
    "authorization",
    ["Bearer garbage", "Bearer pk_", "Bearer sk_" + "a" * 40, "Bearer pk_" + "a" * 40,
     "Bearer sk_0123456789ab_" + "x" * 32, "Basic dXNlcjpwYXNz", "Token sk_" + "a" * 40,
     "Bearer " + "sk_" + "a" * 300],
)  # fmt: skip
def test_garbage_or_unknown_token_is_401(
    http: Http, routes: list[Route], authorization: str
) -> None:
    headers = {"authorization": authorization}
    wrong = [r.expect_refused(r.call(http, headers=headers), 401) for r in guarded(routes)]
    assert [w for w in wrong if w] == []


def test_a_real_token_with_one_character_changed_is_401(
    live_server: LiveServer, http: Http
) -> None:
    admin = live_server.admin_token
    forged = admin[:-1] + ("A" if admin[-1] != "A" else "B")
    refused(http("GET", "/v1/feedback", forged), 401)
    beacon = json.dumps(event(token=live_server.browser_token[:-1] + "?"))
    refused(http("POST", "/v1/feedback", content=beacon, headers=BEACON), 401)
    assert http("GET", "/v1/feedback", admin).status_code == 200


def test_revoked_token_is_401_at_once(http: Http, api: httpx.Client) -> None:
    created = new_token(api, "read")
    assert http("GET", "/v1/feedback", created["token"]).status_code == 200  # cached from here
    assert api.delete(f"/v1/tokens/{created['id']}").status_code == 204
    refused(http("GET", "/v1/feedback", created["token"]), 401)
    refused(api.delete(f"/v1/tokens/{created['id']}"), 404)
    listed = {t["id"]: t for t in api.get("/v1/tokens").json()["items"]}
    assert listed[created["id"]]["revoked_at"] is not None


def test_browser_token_writes_feedback_as_end_user(
    live_server: LiveServer, http: Http, api: httpx.Client, unique: str
) -> None:
    browser = live_server.browser_token
    single = http(
        "POST", "/v1/feedback", browser, json=event(id=f"pk1-{unique}", source="annotator")
    )
    assert single.json()["results"][0]["status"] == "created"
    batch = [event(id=f"pk2-{unique}", source="evaluator"), event(id=f"pk3-{unique}", source="app")]
    assert http("POST", "/v1/feedback", browser, json={"feedback": batch}).status_code == 200
    beacon = json.dumps(event(id=f"pk4-{unique}", source="annotator", token=browser))
    sent = http("POST", "/v1/feedback", content=beacon, headers=BEACON)
    assert sent.json()["results"][0]["status"] == "created"
    revised = http("POST", "/v1/feedback", browser, json=event(id=f"pk1-{unique}", value="down"))
    assert revised.json()["results"][0]["status"] == "revised"
    for n in range(1, 5):
        stored = api.get(f"/v1/feedback/pk{n}-{unique}").json()
        assert stored["source"] == "end_user", stored
    assert api.get(f"/v1/feedback/pk1-{unique}").json()["value"] == -1


def test_browser_token_can_do_nothing_else(
    live_server: LiveServer, http: Http, api: httpx.Client, routes: list[Route], unique: str
) -> None:
    assert api.post("/v1/feedback", json=event(id=f"keep-{unique}")).status_code == 200
    victim = new_token(api, "read")
    browser = live_server.browser_token
    others = [r for r in guarded(routes) if (r.method, r.template) not in BROWSER_MAY]
    # Real ids and bodies, so a route that checked its input before the token would show.
    values = {**PATH_VALUES, "event_id": f"keep-{unique}", "token_id": victim["id"]}
    bodies = {"/v1/projects": {"name": "sneaky"}, "/v1/tokens": {"scopes": ["admin"]},
              "/v1/query": {"metrics": ["count"]}}  # fmt: skip
    wrong = []
    for route in others:
        path = route.template.format(**values)
        body = {"json": bodies.get(route.template, {"tags": ["x"]})} if route.body else {}
        wrong.append(route.expect_refused(http(route.method, path, browser, **body), 403))
    assert [w for w in wrong if w] == []
    # nothing happened: the event, the other token and the project list are as they were
    assert api.get(f"/v1/feedback/keep-{unique}").status_code == 200
    assert http("GET", "/v1/feedback", victim["token"]).status_code == 200
    assert "sneaky" not in [p["name"] for p in api.get("/v1/projects").json()["items"]]


def test_traces_write_token_cannot_read_or_write_feedback(
    live_server: LiveServer, http: Http, api: httpx.Client, unique: str
) -> None:
    assert api.post("/v1/feedback", json=event(id=f"t-{unique}")).status_code == 200
    otlp = live_server.otlp_token
    reads = ["/v1/feedback", f"/v1/feedback/t-{unique}", f"/v1/traces/{TRACE}", "/v1/tokens",
             "/v1/feedback-configs"]  # fmt: skip
    for path in reads:
        refused(http("GET", path, otlp), 403)
    refused(http("DELETE", f"/v1/feedback/t-{unique}", otlp), 403)
    refused(http("POST", "/v1/feedback", otlp, json=event()), 403)
    accepted = http("POST", "/v1/traces", otlp, json={"resourceSpans": []})
    assert accepted.status_code == 200, accepted.text
    assert api.get(f"/v1/feedback/t-{unique}").status_code == 200


def test_read_token_cannot_write(http: Http, api: httpx.Client) -> None:
    reader = new_token(api, "read")["token"]
    assert http("GET", "/v1/feedback", reader).status_code == 200
    refused(http("POST", "/v1/feedback", reader, json=event()), 403)
    refused(http("PATCH", f"/v1/spans/{SPAN}", reader, json={"tags": ["x"]}), 403)
    refused(http("GET", "/v1/tokens", reader), 403)


@pytest.mark.parametrize(
    ("scopes", "prefix"),
    [(["feedback:write"], "pk_"), (["feedback:write", "read"], "sk_"), (["read"], "sk_"),
     (["traces:write"], "sk_"), (["admin"], "sk_"), (["feedback:write", "traces:write"], "sk_")],
)  # fmt: skip
def test_token_prefix_says_whether_it_is_browser_safe(
    api: httpx.Client, scopes: list[str], prefix: str
) -> None:
    created = new_token(api, *scopes)
    assert created["token"].startswith(prefix)
    assert sorted(created["scopes"]) == sorted(scopes)
    listed = {t["id"]: t for t in api.get("/v1/tokens").json()["items"]}
    assert listed[created["id"]]["browser_safe"] is (prefix == "pk_")


def test_tokens_are_shown_once_and_stored_hashed(
    live_server: LiveServer, api: httpx.Client
) -> None:
    made = [new_token(api, "feedback:write"), new_token(api, "read", "traces:write")]
    listing = api.get("/v1/tokens")
    assert listing.status_code == 200
    items = listing.json()["items"]
    for created in made:
        secret = created["token"]
        digest = hashlib.sha256(secret.encode()).hexdigest()
        for leak in (secret, secret_part(secret), digest):
            assert leak not in listing.text
        mine = next(t for t in items if t["id"] == created["id"])
        assert not {"token", "token_hash", "hash", "secret"} & set(mine)
        # No route reads one token back (its secret is shown once, at creation).
        assert api.get(f"/v1/tokens/{created['id']}").status_code == 405
    engine = create_database_engine(live_server.database_url)
    try:
        with engine.connect() as connection:
            rows = {row.id: row for row in connection.execute(select(tokens))}
    finally:
        engine.dispose()
    for created in made:
        row = rows[created["id"]]
        assert row.token_hash == hashlib.sha256(created["token"].encode()).hexdigest()
        assert not any(secret_part(created["token"]) in str(value) for value in row)


@pytest.fixture(scope="module")
def other_project_admin(live_server: LiveServer) -> str:
    """An admin token of project `other` (the fixture's tokens belong to `default`)."""
    engine = create_database_engine(live_server.database_url)
    try:
        with engine.begin() as connection:
            return create_token(connection, "other", frozenset({Scope.ADMIN}), "other")[1]
    finally:
        engine.dispose()


def test_token_of_one_project_cannot_write_into_another(
    live_server: LiveServer, http: Http, api: httpx.Client, other_project_admin: str, unique: str
) -> None:
    other = other_project_admin
    sent = http("POST", "/v1/feedback", other, json=event(id=f"x-{unique}", project="default"))
    assert refused(sent, 422)["errors"][0]["pointer"] == "/project"
    batch = [event(id=f"y-{unique}", project="default"), event(id=f"z-{unique}", project="other"),
             event(id=f"w-{unique}")]  # fmt: skip
    results = http("POST", "/v1/feedback", other, json={"feedback": batch}).json()["results"]
    assert [r["status"] for r in results] == ["rejected", "created", "created"]
    assert results[0]["error"]["errors"][0]["pointer"] == "/feedback/0/project"
    # the browser token of `default` cannot reach `other` either
    sent = http("POST", "/v1/feedback", live_server.browser_token, json=event(project="other"))
    assert refused(sent, 422)["errors"][0]["pointer"] == "/project"
    # each project sees only its own events
    for missing in (f"x-{unique}", f"y-{unique}", f"z-{unique}", f"w-{unique}"):
        assert api.get(f"/v1/feedback/{missing}").status_code == 404
    assert http("GET", f"/v1/feedback/z-{unique}", other).status_code == 200
    assert http("GET", f"/v1/feedback/y-{unique}", other).status_code == 404
    # and cannot delete across projects
    assert api.post("/v1/feedback", json=event(id=f"mine-{unique}")).status_code == 200
    refused(http("DELETE", f"/v1/feedback/mine-{unique}", other), 404)
    assert api.get(f"/v1/feedback/mine-{unique}").status_code == 200


def preflight(http: Http, origin: str, path: str = "/v1/feedback") -> httpx.Response:
    headers = {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }
    return http("OPTIONS", path, headers=headers)


def test_preflight_from_an_allowed_origin_is_answered(http: Http) -> None:
    response = preflight(http, ALLOWED)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers and "content-type" in allowed_headers
    assert "origin" in response.headers.get("vary", "").lower()


@pytest.mark.parametrize(
    "origin",
    [EVIL, "http://allowed.example.evil.example", "https://allowed.example",
     "http://allowed.example:8080", "null"],
)  # fmt: skip
def test_preflight_from_another_origin_is_refused(http: Http, origin: str) -> None:
    for path in ("/v1/feedback", "/v1/tokens"):
        response = preflight(http, origin, path)
        assert response.status_code == 403
        assert "access-control-allow-origin" not in response.headers


def test_request_from_a_foreign_origin_is_refused_even_with_a_valid_token(
    live_server: LiveServer, http: Http, api: httpx.Client, unique: str
) -> None:
    evil = {"origin": EVIL}
    for token in (live_server.browser_token, live_server.admin_token):
        response = http(
            "POST", "/v1/feedback", token, json=event(id=f"evil-{unique}"), headers=evil
        )
        assert "access-control-allow-origin" not in response.headers
        refused(response, 403)
    beacon = json.dumps(event(id=f"evil-{unique}", token=live_server.browser_token))
    refused(http("POST", "/v1/feedback", content=beacon, headers={**BEACON, **evil}), 403)
    assert api.get(f"/v1/feedback/evil-{unique}").status_code == 404
    ok = http("POST", "/v1/feedback", live_server.browser_token, json=event(id=f"ok-{unique}"),
              headers={"origin": ALLOWED})  # fmt: skip
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ALLOWED


def test_token_origins_replace_the_server_default(
    live_server: LiveServer, http: Http, api: httpx.Client, unique: str
) -> None:
    shop = new_token(api, "feedback:write", origins=[SHOP])
    assert shop["token"].startswith("pk_")
    assert preflight(http, SHOP).headers.get("access-control-allow-origin") == SHOP
    sent = http("POST", "/v1/feedback", shop["token"], json=event(id=f"shop-{unique}"),
                headers={"origin": SHOP})  # fmt: skip
    assert sent.status_code == 200, sent.text
    assert sent.headers["access-control-allow-origin"] == SHOP
    for origin in (EVIL, ALLOWED, "https://shop.example"):
        sent = http("POST", "/v1/feedback", shop["token"], json=event(), headers={"origin": origin})
        refused(sent, 403)
    # other tokens do not gain the shop's origin
    sent = http("POST", "/v1/feedback", live_server.browser_token, json=event(),
                headers={"origin": SHOP})  # fmt: skip
    refused(sent, 403)
    # once the only token allowing it is revoked, the origin's preflight is refused again
    assert api.delete(f"/v1/tokens/{shop['id']}").status_code == 204
    assert preflight(http, SHOP).status_code == 403
    assert api.get(f"/v1/feedback/shop-{unique}").json()["source"] == "end_user"


def plain_environment() -> dict[str, str]:
    """This process's environment without any PLAUDIT_ setting that could change the outcome."""
    plain = {k: v for k, v in os.environ.items() if not k.startswith("PLAUDIT_")}
    return {**plain, "PLAUDIT_GRPC_PORT": "0"}  # no gRPC port shared between test servers


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [plaudit_command(), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env or plain_environment(),
        check=False,
    )


def test_cli_token_create_prints_a_working_browser_token_once(
    live_server: LiveServer, http: Http, api: httpx.Client, unique: str
) -> None:
    project = f"cli-{unique}"
    database = ["--database-url", live_server.database_url]
    done = run_cli("token", "create", "--project", project, "--create-project",
                   "--scope", "feedback:write", "--json",
                   *database)  # fmt: skip
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    secret = created["token"]
    assert secret.startswith("pk_") and created["project"] == project
    assert created["scopes"] == ["feedback:write"]
    assert done.stdout.count(secret) == 1 and secret not in done.stderr
    sent = http("POST", "/v1/feedback", secret, json=event(id=f"cli-{unique}"))
    assert sent.json()["results"][0]["status"] == "created", sent.text
    refused(http("GET", "/v1/feedback", secret), 403)
    assert api.get(f"/v1/feedback/cli-{unique}").status_code == 404  # it went to its own project
    listed = run_cli("token", "list", "--project", project, "--json", *database)
    assert listed.returncode == 0, listed.stderr
    assert created["id"] in listed.stdout
    assert secret not in listed.stdout and secret_part(secret) not in listed.stdout


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("via", ["flag", "environment"])
def test_dev_mode_refuses_a_public_address(tmp_path: Path, via: str) -> None:
    port = free_port()
    database = tmp_path / "dev.db"
    args = [
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        str(port),
        "--database-url",
        f"sqlite:///{database}",
    ]
    env = plain_environment()
    if via == "flag":
        args.append("--dev")
    else:
        env["PLAUDIT_DEV"] = "1"
    done = run_cli(*args, env=env)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "loopback" in done.stderr and "0.0.0.0" in done.stderr
    assert not database.exists()  # it explained and stopped before touching the database
    assert not port_is_open(port)


@dataclass
class Served:
    """A running `plaudit serve` subprocess."""

    url: str
    tokens: tuple[str, str, str]
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> str:
        """Stop the server gracefully and answer everything it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.log.read_text(errors="replace")


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Served]:
    """`plaudit serve` with an access log, on a free port and a temporary SQLite file."""
    database_url = f"sqlite:///{tmp_path / 'served.db'}"
    issued = make_tokens(database_url)
    port = free_port()
    log = tmp_path / "server.log"
    command = [plaudit_command(), "serve", "--port", str(port), "--database-url", database_url,
               "--access-log", "--log-level", "debug", "--log-format", request.param]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, env=plain_environment()
        )
    server = Served(f"http://127.0.0.1:{port}", issued, process, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "plaudit serve did not start"
            time.sleep(0.1)
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("served", ["json", "text"], indirect=True)
def test_secrets_never_reach_logs(served: Served) -> None:
    admin, browser, otlp = served.tokens
    unknown = "sk_" + secrets.token_hex(6) + "_" + secrets.token_urlsafe(24)
    shapeless = "hunter2-" + secrets.token_hex(16)
    with httpx.Client(base_url=served.url, timeout=30) as client:
        http = Http(client)
        assert http("GET", "/v1/feedback", admin).status_code == 200
        beacon = json.dumps(event(token=browser))
        assert http("POST", "/v1/feedback", content=beacon, headers=BEACON).status_code == 200
        assert http("GET", "/v1/feedback", unknown).status_code == 401
        assert http("GET", "/v1/feedback", shapeless).status_code == 401
        assert http("GET", f"/v1/feedback/{otlp}", admin).status_code == 404  # a token in the path
        # `token` is no filter, so it is refused (422); its value must still stay out of the logs
        assert http("GET", "/v1/feedback", admin, params={"token": browser}).status_code == 422
        broken = b'{"token": "%s", "name": ' % browser.encode()
        assert http("POST", "/v1/feedback", content=broken, headers=BEACON).status_code == 400
        protobuf = {"content-type": "application/x-protobuf"}
        assert (
            http("POST", "/v1/traces", otlp, content=b"\x00junk", headers=protobuf).status_code
            == 400
        )
    text = served.stop()
    assert "/v1/feedback" in text, text  # the access log is on, so the check below means something
    for secret in (admin, browser, otlp, unknown):
        assert secret not in text, f"a token reached the log:\n{text}"
        assert secret_part(secret) not in text, f"a token's secret part reached the log:\n{text}"
    assert shapeless not in text, f"a bearer value reached the log:\n{text}"


def project_admin(live_server: LiveServer, project: str) -> str:
    """An admin token of `project` (made in the database, as `plaudit token create` does)."""
    engine = create_database_engine(live_server.database_url)
    with engine.begin() as connection:
        secret = create_token(connection, project, frozenset({Scope.ADMIN}), "tenant")[1]
    engine.dispose()
    return secret


def test_a_projects_admin_sees_and_creates_only_its_own_project(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    tenant = f"tenant-{unique}"
    with live_server.client(project_admin(live_server, tenant)) as admin:
        listed = admin.get("/v1/projects")
        assert listed.status_code == 200
        assert [p["name"] for p in listed.json()["items"]] == [tenant]
        refused(admin.post("/v1/projects", json={"name": f"grab-{unique}"}), 403)
        assert admin.post("/v1/projects", json={"name": tenant}).status_code == 201
    # the server-wide admin (project `default`) sees every project and may create them
    everything = [p["name"] for p in api.get("/v1/projects").json()["items"]]
    assert tenant in everything and "default" in everything and f"grab-{unique}" not in everything
    assert api.post("/v1/projects", json={"name": f"new-{unique}"}).status_code == 201
