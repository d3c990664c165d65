"""PII in feedback text is redacted, flagged or kept as the project says (DESIGN §6)."""

import json
import re
from pathlib import Path

import httpx
import pytest

from plaudit.core.access import Scope
from plaudit.store.database import create_database_engine
from plaudit.store.tokens import create_token
from tests.conftest import LiveServer

TRACE = "0af7651916cd43dd8448eb211c80319c"
COMMENT = "wrong again, write to jane.doe@example.com or call +1 415 555 2671"


def set_mode(api: httpx.Client, mode: str) -> None:
    answer = api.patch("/v1/projects/default", json={"pii": mode})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"name": "default", "pii": mode}


def stored(api: httpx.Client, event: dict[str, object]) -> dict[str, object]:
    sent = api.post("/v1/feedback", json={"trace_id": TRACE, **event})
    assert sent.status_code == 200, sent.text
    answer: dict[str, object] = api.get(f"/v1/feedback/{event['id']}").json()
    return answer


def test_redact_is_the_default_and_replaces_each_finding(
    live_server: LiveServer, api: httpx.Client, unique: str
) -> None:
    # A project nobody has set a mode on, so the default is what is seen.
    project = f"new-{unique}"
    assert api.post("/v1/projects", json={"name": project}).status_code == 201
    modes = {p["name"]: p["pii"] for p in api.get("/v1/projects").json()["items"]}
    assert modes[project] == "redact"
    with live_server.client(admin_token_of(live_server, project)) as own:
        event = stored(
            own, {"id": f"r-{unique}", "name": "rq", "value": "down", "comment": COMMENT}
        )
    assert event["comment"] == "wrong again, write to [EMAIL] or call [PHONE]"
    assert event["pii"] == ["email", "phone"]


def admin_token_of(live_server: LiveServer, project: str) -> str:
    engine = create_database_engine(live_server.database_url)
    with engine.begin() as connection:
        token = create_token(connection, project, frozenset({Scope.ADMIN}), "tests")[1]
    engine.dispose()
    return token


def test_text_values_corrections_and_expected_are_redacted(api: httpx.Client, unique: str) -> None:
    set_mode(api, "redact")
    text = stored(
        api,
        {"id": f"t-{unique}", "name": "note", "kind": "text", "value": "card 4111 1111 1111 1111"},
    )
    assert text["value"] == "card [CARD]" and text["pii"] == ["card"]
    correction = stored(
        api,
        {
            "id": f"c-{unique}",
            "name": "fix",
            "kind": "correction",
            "value": {"answer": "pay to DE89 3704 0044 0532 0130 00", "n": 1},
            "expected": "from 192.168.12.7",
        },
    )
    assert correction["value"] == {"answer": "pay to [IBAN]", "n": 1}
    keyed = stored(
        api,
        {
            "id": f"k-{unique}",
            "name": "fix",
            "kind": "correction",
            "value": {"a@example.com": "x", "b@example.com": "y"},
        },
    )
    assert keyed["value"] == {"[EMAIL]": "x", "[EMAIL] 2": "y"} and keyed["pii"] == ["email"]
    assert correction["expected"] == "from [IP]"
    assert correction["pii"] == ["iban", "ip"]
    clean = stored(api, {"id": f"n-{unique}", "name": "rq", "value": "up", "comment": "great"})
    assert clean["comment"] == "great" and clean["pii"] is None


def test_flag_keeps_the_text_and_records_the_types(api: httpx.Client, unique: str) -> None:
    set_mode(api, "flag")
    try:
        event = stored(
            api, {"id": f"f-{unique}", "name": "rq", "value": "down", "comment": COMMENT}
        )
        assert event["comment"] == COMMENT
        assert event["pii"] == ["email", "phone"]
    finally:
        set_mode(api, "redact")


def test_off_keeps_everything(api: httpx.Client, unique: str) -> None:
    set_mode(api, "off")
    try:
        event = stored(
            api, {"id": f"o-{unique}", "name": "rq", "value": "down", "comment": COMMENT}
        )
        assert event["comment"] == COMMENT and event["pii"] is None
    finally:
        set_mode(api, "redact")


def test_a_retry_of_redacted_feedback_is_a_duplicate(api: httpx.Client, unique: str) -> None:
    set_mode(api, "redact")
    body = {"id": f"d-{unique}", "trace_id": TRACE, "name": "rq", "value": "down",
            "comment": COMMENT}  # fmt: skip
    first = api.post("/v1/feedback", json=body).json()["results"][0]["status"]
    again = api.post("/v1/feedback", json=body).json()["results"][0]["status"]
    assert (first, again) == ("created", "duplicate")


@pytest.mark.parametrize(
    ("body", "pointer"),
    [({"pii": "hide"}, "/pii"), ({"pii": "off", "other": 1}, "/other"), ({}, "/pii")],
)
def test_bad_settings_are_refused_precisely(
    api: httpx.Client, body: dict[str, object], pointer: str
) -> None:
    answer = api.patch("/v1/projects/default", json=body)
    assert answer.status_code == 422  # readable JSON, a setting it cannot take
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["errors"][0]["pointer"] == pointer


def test_only_the_projects_own_admin_changes_its_mode(live_server: LiveServer) -> None:
    with live_server.client() as admin:
        assert admin.patch("/v1/projects/elsewhere", json={"pii": "off"}).status_code == 403
        created = admin.post("/v1/projects", json={"name": "elsewhere", "pii": "off"})
        assert created.status_code == 403
        modes = {p["name"]: p["pii"] for p in admin.get("/v1/projects").json()["items"]}
        assert modes.get("elsewhere") in (None, "redact")
    with live_server.client(live_server.browser_token) as browser:
        assert browser.patch("/v1/projects/default", json={"pii": "off"}).status_code == 403


def test_the_privacy_docs_example_answers_as_shown(api: httpx.Client) -> None:
    """docs/privacy.md's curl example: its body and the answer printed below it."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "privacy.md").read_text()
    example = text.split("```bash\n", 1)[1].split("```", 1)[0]
    path = re.search(r"http://127\.0\.0\.1:8000(\S+)", example)
    body = re.search(r"-d '(\{.*?\})'", example)
    shown = re.search(r"^# (\{.*\})$", example, re.MULTILINE)
    assert path and body and shown, example
    try:
        answer = api.patch(path.group(1), content=body.group(1),
                           headers={"content-type": "application/json"})  # fmt: skip
        assert answer.status_code == 200
        assert answer.json() == json.loads(shown.group(1))
    finally:
        set_mode(api, "redact")
