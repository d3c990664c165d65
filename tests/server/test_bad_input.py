"""Bad input never breaks the server: each refusal is a 4xx `application/problem+json` that says
what to fix (DESIGN §3), with the JSON pointer of every bad field, and the server keeps serving.
"""

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plaudit.core.feedback import FeedbackIn
from tests.conftest import LiveServer

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
PROBLEM = "application/problem+json"
EVENT: dict[str, Any] = {"name": "response-quality", "trace_id": TRACE, "value": "up"}


@pytest.fixture(scope="module")
def api(live_server: LiveServer) -> Iterator[httpx.Client]:
    """The admin client, shared by the module (a new client per test or example costs ~40 ms)."""
    with live_server.client() as client:
        yield client


def problem(
    response: httpx.Response, status: int, pointer: str | None = None, limit: str | None = None
) -> dict[str, Any]:
    """Check an error answer's shape; answer its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("/problems/")
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    if pointer is not None:
        assert body["errors"], body
        for error in body["errors"]:
            assert isinstance(error["detail"], str) and error["detail"]
        assert pointer in [error["pointer"] for error in body["errors"]], body
    if limit is not None:
        named = {body.get("limit")} | {error.get("limit") for error in body.get("errors", [])}
        assert limit in named, body
    return body


def post_raw(
    api: httpx.Client, content: bytes, content_type: str | None = "application/json"
) -> httpx.Response:
    headers = {"content-type": content_type} if content_type is not None else {}
    return api.post("/v1/feedback", content=content, headers=headers)


def with_event(**fields: Any) -> dict[str, Any]:
    return {**EVENT, **fields}


def nested_objects(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"k": value}
    return value


def nested_arrays(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = [value]
    return value


def deep_arrays(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def event_bytes(extra: bytes) -> bytes:
    """A valid event's JSON with `extra` (raw JSON text of more members) spliced in."""
    return b'{"name": "q", "trace_id": "%s", %s}' % (TRACE.encode(), extra)


# Bodies that are not (readable) JSON, or not a JSON object: 400 for the whole request.
UNREADABLE: dict[str, bytes] = {
    "malformed": b'{"name": "q", "trace_id": }',
    "truncated": b'{"name": "q", "trace_id": "4bf92f35',
    "top-level list": json.dumps([EVENT]).encode(),
    "top-level string": b'"response-quality"',
    "top-level number": b"42",
    "top-level null": b"null",
    "empty": b"",
    "only whitespace": b"  \n ",
    "trailing garbage": json.dumps(EVENT).encode() + b" trailing",
    "single quotes": b"{'name': 'q'}",
    "NaN literal": event_bytes(b'"value": NaN'),
    "Infinity literal": event_bytes(b'"value": Infinity'),
    "-Infinity literal": event_bytes(b'"value": -Infinity'),
    "NaN score": event_bytes(b'"scores": {"a": NaN}'),
    "lone high surrogate": b'{"name": "q\\ud800", "trace_id": "%s"}' % TRACE.encode(),
    "lone low surrogate in comment": event_bytes(b'"comment": "\\udc00 oops"'),
    "surrogate as raw UTF-8 bytes": event_bytes(b'"comment": "\xed\xa0\x80"'),
    "invalid UTF-8": event_bytes(b'"comment": "caf\xe9"'),
    "raw NUL byte in a string": event_bytes(b'"comment": "a\x00b"'),
    "raw control character": event_bytes(b'"comment": "a\x01b"'),
    "100k nested arrays": deep_arrays(100_000),
    "100k nested objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "feedback is not a list": b'{"feedback": {"name": "q"}}',
    "batch with other keys": b'{"feedback": [], "name": "q"}',
    "token is not a string": event_bytes(b'"token": 12345'),
}


@pytest.mark.parametrize("body", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_unreadable_bodies_are_400(api: httpx.Client, body: bytes) -> None:
    problem(post_raw(api, body), 400)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(event_bytes(b'"value": 1e400'), id="1e400 value"),
        pytest.param(event_bytes(b'"scores": {"a": -1e400}'), id="-1e400 score"),
        pytest.param(event_bytes(b'"metadata": {"a": 1e400}'), id="1e400 in metadata"),
        pytest.param(
            event_bytes(b'"metadata": {"a": ' + deep_arrays(100_000) + b"}"), id="deep metadata"
        ),
        pytest.param(event_bytes(b'"value": ' + deep_arrays(100_000)), id="deep value"),
    ],
)
def test_out_of_range_numbers_and_deep_nesting_are_400(api: httpx.Client, body: bytes) -> None:
    """A number no float holds, or nesting past what the JSON decoder reads, is a body we
    cannot read (400), like malformed JSON; not a rule of readable JSON broken (422)."""
    response = post_raw(api, body)
    detail = problem(response, 400)["detail"]
    assert "not valid JSON" in detail
    assert "out of range" in detail or "nested too deeply" in detail


@pytest.mark.parametrize("levels", [60, 500, 900])
@pytest.mark.parametrize("field", ["metadata", "value", "expected"])
def test_nesting_the_decoder_accepts_is_refused_by_the_depth_limit(
    api: httpx.Client, field: str, levels: int
) -> None:
    """Deep enough to break a recursive depth check, shallow enough for the JSON decoder."""
    inner = deep_arrays(levels)
    raw = b'{"k": %s}' % inner if field == "metadata" else inner
    response = post_raw(api, event_bytes(b'"%s": %s' % (field.encode(), raw)))
    problem(response, 422, f"/{field}")  # readable JSON past our depth limit: a broken rule


# Readable JSON that breaks a rule: 422 with the pointer of the bad field (and the limit, if any).
TOO_LONG_COMMENT_BYTES = "€" * 5462  # 5,462 characters but 16,386 bytes of UTF-8
INVALID: list[tuple[str, dict[str, Any], str, str | None]] = [
    # wrong types
    ("name is a number", with_event(name=5), "/name", None),
    ("trace_id is a number", with_event(trace_id=12), "/trace_id", None),
    ("tags is a string", with_event(tags="escalated"), "/tags", None),
    ("a tag is a number", with_event(tags=["ok", 7]), "/tags/1", None),
    ("metadata is a list", with_event(metadata=[1, 2]), "/metadata", None),
    ("scores is a list", with_event(scores=[1]), "/scores", None),
    ("a score is a string", with_event(scores={"relevance": "high"}), "/scores/relevance", None),
    ("a score is a bool", with_event(scores={"ok": 1, "a/b": True}), "/scores/a~1b", None),
    ("a score is null", with_event(scores={"x": None}), "/scores/x", None),
    ("implicit is a string", with_event(implicit="yes"), "/implicit", None),
    ("comment is an object", with_event(comment={"text": "x"}), "/comment", None),
    ("user_id is a list", with_event(user_id=["u"]), "/user_id", None),
    ("kind is a number", with_event(kind=3), "/kind", None),
    ("kind is unknown", with_event(kind="emoji"), "/kind", None),
    ("source is unknown", with_event(source="god"), "/source", None),
    ("signal_type is unknown", with_event(signal_type="loud"), "/signal_type", None),
    # unknown fields
    ("unknown field", with_event(sentiment="happy"), "/sentiment", None),
    ("camelCase field", {"name": "q", "traceId": TRACE}, "/traceId", None),
    # sizes
    ("name of 129 chars", with_event(name="n" * 129), "/name", "name_chars"),
    ("empty name", with_event(name=""), "/name", None),
    ("capability of 129 chars", with_event(capability="c" * 129), "/capability", "name_chars"),
    ("comment over 16 KiB", with_event(comment="x" * (16 * 1024 + 1)), "/comment", "text_bytes"),
    (
        "comment over 16 KiB of UTF-8",
        with_event(comment=TOO_LONG_COMMENT_BYTES),
        "/comment",
        "text_bytes",
    ),
    ("comment of 4-byte chars", with_event(comment="😀" * 4097), "/comment", "text_bytes"),
    ("text value over 16 KiB", with_event(value="é" * 8193), "/value", "text_bytes"),
    (
        "metadata over 32 KiB",
        with_event(metadata={"blob": "m" * (32 * 1024)}),
        "/metadata",
        "metadata_bytes",
    ),
    (
        "metadata over 32 KiB in many keys",
        with_event(metadata={f"key{i}": "ü" * 10 for i in range(2000)}),
        "/metadata",
        "metadata_bytes",
    ),
    (
        "an integer beyond 64 bits in metadata",
        with_event(metadata={"n": 10**400}),
        "/metadata",
        None,
    ),
    ("2**63 in expected", with_event(expected={"n": [2**63]}), "/expected", None),
    ("65 tags", with_event(tags=[f"t{i}" for i in range(65)]), "/tags", "tags"),
    ("a tag of 129 chars", with_event(tags=["ok", "t" * 129]), "/tags/1", None),
    ("65 scores", with_event(scores={f"s{i}": 1 for i in range(65)}), "/scores", "scores"),
    ("a score name of 129 chars", with_event(scores={"s" * 129: 1}), "/scores", None),
    (
        "expected over 64 KiB",
        with_event(expected={"text": "e" * 65_536}),
        "/expected",
        "json_field_bytes",
    ),
    (
        "conversation_id of 257 chars",
        {"name": "q", "conversation_id": "c" * 257},
        "/conversation_id",
        None,
    ),
    ("empty conversation_id", {"name": "q", "conversation_id": ""}, "/conversation_id", None),
    ("user_id of 257 chars", with_event(user_id="u" * 257), "/user_id", None),
    # ids
    ("trace_id of 31 hex", with_event(trace_id=TRACE[:31]), "/trace_id", None),
    ("trace_id of 33 hex", with_event(trace_id=TRACE + "a"), "/trace_id", None),
    ("trace_id not hex", with_event(trace_id="g" * 32), "/trace_id", None),
    (
        "trace_id as a UUID",
        with_event(trace_id="4bf92f35-77b3-4da6-a3ce-929d0e0e4736"),
        "/trace_id",
        None,
    ),
    ("trace_id all zero", with_event(trace_id="0" * 32), "/trace_id", None),
    ("empty trace_id", with_event(trace_id=""), "/trace_id", None),
    ("span_id of 15 hex", {"name": "q", "span_id": SPAN[:15]}, "/span_id", None),
    ("span_id of 17 hex", {"name": "q", "span_id": SPAN + "a"}, "/span_id", None),
    ("span_id not hex", {"name": "q", "span_id": "z" * 16}, "/span_id", None),
    ("span_id all zero", {"name": "q", "span_id": "0" * 16}, "/span_id", None),
    (
        "traceparent garbage",
        {"name": "q", "traceparent": "not-a-traceparent"},
        "/traceparent",
        None,
    ),
    (
        "traceparent version ff",
        {"name": "q", "traceparent": f"ff-{TRACE}-{SPAN}-01"},
        "/traceparent",
        None,
    ),
    (
        "traceparent zero trace",
        {"name": "q", "traceparent": f"00-{'0' * 32}-{SPAN}-01"},
        "/traceparent",
        None,
    ),
    (
        "traceparent zero span",
        {"name": "q", "traceparent": f"00-{TRACE}-{'0' * 16}-01"},
        "/traceparent",
        None,
    ),
    (
        "traceparent short span",
        {"name": "q", "traceparent": f"00-{TRACE}-{SPAN[:15]}-01"},
        "/traceparent",
        None,
    ),
    (
        "traceparent naming another trace",
        {"name": "q", "trace_id": "a" * 32, "traceparent": f"00-{TRACE}-{SPAN}-01"},
        "/traceparent",
        None,
    ),
    ("traceparent of 65 chars", {"name": "q", "traceparent": "0" * 65}, "/traceparent", None),
    # NUL characters
    ("NUL in name", with_event(name="thumbs\u0000up"), "/name", None),
    ("NUL in comment", with_event(comment="fine\u0000"), "/comment", None),
    (
        "NUL in a metadata key",
        with_event(metadata={"pl\u0000an": "pro"}),
        "/metadata/pl\u0000an",
        None,
    ),
    ("NUL in a metadata value", with_event(metadata={"plan": "pro\u0000"}), "/metadata/plan", None),
    (
        "NUL deep in metadata",
        with_event(metadata={"a": {"b": ["ok", "x\u0000"]}}),
        "/metadata/a/b/1",
        None,
    ),
    ("NUL in a tag", with_event(tags=["a", "b\u0000"]), "/tags/1", None),
    ("NUL in a text value", with_event(value="\u0000"), "/value", None),
    (
        "NUL in an object value",
        with_event(value={"step": {"note": "\u0000"}}),
        "/value/step/note",
        None,
    ),
    ("NUL in a score name", with_event(scores={"re\u0000": 1.0}), "/scores/re\u0000", None),
    ("NUL in user_id", with_event(user_id="u\u0000"), "/user_id", None),
    (
        "NUL in conversation_id",
        {"name": "q", "conversation_id": "c\u0000"},
        "/conversation_id",
        None,
    ),
    ("NUL in expected", with_event(expected={"answer": "\u0000"}), "/expected/answer", None),
    ("NUL in id", with_event(id="a\u0000b"), "/id", None),
    (
        "NUL in a metadata key with a slash",
        with_event(metadata={"a/b": {"c\u0000": 1}}),
        "/metadata/a~1b/c\u0000",
        None,
    ),
    # value against kind
    ("thumb sideways", with_event(kind="thumb", value="sideways"), "/value", None),
    ("thumb of 2", with_event(kind="thumb", value=2), "/value", None),
    ("thumb of true", with_event(kind="thumb", value=True), "/value", None),
    ("number abc", with_event(kind="number", value="abc"), "/value", None),
    ("number true", with_event(kind="number", value=True), "/value", None),
    ("number beyond a float", with_event(kind="number", value=10**400), "/value", None),
    ("inferred number beyond a float", with_event(value=-(10**400)), "/value", None),
    ("bool of 1", with_event(kind="bool", value=1), "/value", None),
    ("bool of 'true'", with_event(kind="bool", value="true"), "/value", None),
    ("signal with a value", with_event(kind="signal", value=1), "/value", None),
    ("empty enum", with_event(kind="enum", value=""), "/value", None),
    ("text of a number", with_event(kind="text", value=5), "/value", None),
    ("object of a list", with_event(kind="object", value=[1]), "/value", None),
    (
        "correction without a value",
        {"name": "q", "trace_id": TRACE, "kind": "correction"},
        "/value",
        None,
    ),
    ("object of 6 object levels", with_event(value=nested_objects(6)), "/value", "object_levels"),
    (
        "object with 3 array levels",
        with_event(value={"a": nested_arrays(3)}),
        "/value",
        "object_levels",
    ),
    # required fields, times, ids
    ("no target", {"name": "q", "value": 1}, "/", None),
    ("no name", {"trace_id": TRACE, "value": 1}, "/name", None),
    (
        "timestamp without a timezone",
        with_event(timestamp="2026-01-01T10:00:00"),
        "/timestamp",
        None,
    ),
    ("timestamp as words", with_event(timestamp="yesterday"), "/timestamp", None),
    ("timestamp in month 13", with_event(timestamp="2026-13-01T00:00:00Z"), "/timestamp", None),
    ("timestamp as a number", with_event(timestamp=1767225600), "/timestamp", None),
    (
        "timestamp before year 1 in UTC",
        with_event(timestamp="0001-01-01T00:00:00+14:00"),
        "/timestamp",
        None,
    ),
    (
        "timestamp after 9999 in UTC",
        with_event(timestamp="9999-12-31T23:59:59-14:00"),
        "/timestamp",
        None,
    ),
    ("id with a space", with_event(id="my event"), "/id", None),
    ("id with a slash", with_event(id="a/b"), "/id", None),
    ("id with a non-ASCII letter", with_event(id="évènement"), "/id", None),
    ("empty id", with_event(id=""), "/id", None),
    ("id of 65 chars", with_event(id="i" * 65), "/id", None),
]


@pytest.mark.parametrize(
    ("body", "pointer", "limit"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_event_is_422_with_pointer(
    api: httpx.Client, body: dict[str, Any], pointer: str, limit: str | None
) -> None:
    problem(api.post("/v1/feedback", json=body), 422, pointer, limit)


def test_the_same_item_in_a_batch_is_rejected_with_its_pointer(
    api: httpx.Client, unique: str
) -> None:
    """Every single-event refusal above rejects only its item when it comes in a batch."""
    bad = [body for _, body, _, _ in INVALID]
    good = [with_event(id=f"good{i}-{unique}") for i in range(3)]
    response = api.post("/v1/feedback", json={"feedback": [good[0], *bad, good[1], good[2]]})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert len(results) == len(bad) + 3
    assert [r["status"] for r in (results[0], *results[-2:])] == ["created"] * 3
    for index, (case, _, pointer, _) in enumerate(INVALID, start=1):
        result = results[index]
        assert result["status"] == "rejected", case
        expected = f"/feedback/{index}" + ("" if pointer == "/" else pointer)
        assert expected in [e["pointer"] for e in result["error"]["errors"]], (case, result)
        assert result["error"]["detail"]
    for event in good:
        assert api.get(f"/v1/feedback/{event['id']}").status_code == 200


def test_batch_rejects_bad_items_by_pointer_and_stores_the_rest(
    api: httpx.Client, unique: str
) -> None:
    items: list[Any] = [with_event(id=f"b{i}-{unique}") for i in range(6)]
    items[3] = with_event(id=f"b3-{unique}", trace_id="xyz")
    items[4] = "not an event"
    items[5] = with_event(id=f"b5-{unique}", comment="a\u0000b")
    results = api.post("/v1/feedback", json={"feedback": items}).json()["results"]
    assert [r["status"] for r in results] == ["created"] * 3 + ["rejected"] * 3
    assert results[3]["id"] == f"b3-{unique}"
    assert results[3]["error"]["errors"][0]["pointer"] == "/feedback/3/trace_id"
    assert results[4]["error"]["errors"][0]["pointer"] == "/feedback/4"
    assert results[5]["error"]["errors"][0]["pointer"] == "/feedback/5/comment"
    assert api.get(f"/v1/feedback/b2-{unique}").status_code == 200
    assert api.get(f"/v1/feedback/b3-{unique}").status_code == 404


def test_limits_are_exact_at_the_boundary(api: httpx.Client, unique: str) -> None:
    """The largest allowed sizes pass: the refusals above are the limits, not something else."""
    at_limit = with_event(
        id="i" * 54 + unique + "xy",
        name="n" * 128,
        comment="€" * 5461 + "x",  # 16,384 bytes of UTF-8
        tags=[f"t{i}" for i in range(64)],
        metadata={"blob": "m" * (32 * 1024 - 20)},
        user_id="u" * 256,
        scores={f"s{i}": i / 10 for i in range(64)},
    )
    assert len(at_limit["id"]) == 64
    assert len(json.dumps(at_limit["metadata"], separators=(",", ":"))) <= 32 * 1024
    response = api.post("/v1/feedback", json=at_limit)
    assert response.json()["results"][0]["status"] == "created", response.text
    deepest = with_event(id=f"deep-{unique}", value={"a": nested_objects(4), "b": [[1, 2]]})
    assert api.post("/v1/feedback", json=deepest).json()["results"][0]["status"] == "created"
    huge_but_finite = with_event(id=f"big-{unique}", kind="number", value=10**300)
    assert (
        api.post("/v1/feedback", json=huge_but_finite).json()["results"][0]["status"] == "created"
    )
    assert float(api.get(f"/v1/feedback/big-{unique}").json()["value"]) == 1e300


def test_batch_of_1001_is_413_naming_the_limit(api: httpx.Client) -> None:
    body = problem(api.post("/v1/feedback", json={"feedback": [EVENT] * 1001}), 413)
    assert body["limit"] == "batch_events"
    assert "1000" in body["detail"]


def test_batch_of_1000_is_accepted(api: httpx.Client, unique: str) -> None:
    events = [with_event(id=f"k{i}-{unique}") for i in range(1000)]
    results = api.post("/v1/feedback", json={"feedback": events}).json()["results"]
    assert len(results) == 1000 and {r["status"] for r in results} == {"created"}


def test_body_over_5_mib_is_413_naming_the_limit(api: httpx.Client) -> None:
    body = json.dumps(with_event(comment="x" * (5 * 1024 * 1024))).encode()
    found = problem(post_raw(api, body), 413)
    assert found["limit"] == "feedback_body_bytes"
    events = [with_event(metadata={"blob": "y" * 6000}) for _ in range(900)]  # a legal batch size
    found = problem(api.post("/v1/feedback", json={"feedback": events}), 413)
    assert found["limit"] == "feedback_body_bytes"


@pytest.mark.parametrize(
    "content_type",
    ["application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
     "text/html", "application/octet-stream", "application/x-protobuf"],
)  # fmt: skip
def test_content_types_that_are_not_json_are_415(api: httpx.Client, content_type: str) -> None:
    problem(post_raw(api, json.dumps(EVENT).encode(), content_type), 415)


def test_content_types_browsers_and_sdks_send_are_accepted(api: httpx.Client) -> None:
    for content_type in ["application/json; charset=utf-8", "text/plain;charset=UTF-8", None]:
        response = post_raw(api, json.dumps(EVENT).encode(), content_type)
        assert response.json()["results"][0]["status"] == "created", (content_type, response.text)


@pytest.mark.parametrize(
    ("path", "body", "status", "pointer"),
    [
        pytest.param("/v1/spans/zz", {"tags": ["a"]}, 422, "/span_id", id="span id too short"),
        pytest.param(f"/v1/spans/{'0' * 16}", {"tags": ["a"]}, 422, "/span_id", id="zero span id"),
        pytest.param(f"/v1/spans/{SPAN}a", {"tags": ["a"]}, 422, "/span_id", id="17-char span id"),
        pytest.param(
            f"/v1/traces/{TRACE[:-1]}g", {"tags": ["a"]}, 422, "/trace_id", id="non-hex trace"
        ),
        pytest.param(f"/v1/spans/{SPAN}", b"{", 400, None, id="malformed JSON"),
        pytest.param(f"/v1/spans/{SPAN}", b"", 400, None, id="empty body"),
        pytest.param(
            f"/v1/spans/{SPAN}",
            b'{"feedback": {"a": %s}}' % deep_arrays(100_000),
            400,
            None,
            id="deep nesting",
        ),
        pytest.param(f"/v1/spans/{SPAN}", [1], 422, None, id="list body"),
        pytest.param(f"/v1/spans/{SPAN}", {"tags": "x"}, 422, None, id="tags is a string"),
        pytest.param(
            f"/v1/spans/{SPAN}",
            {"feedback": nested_objects(6)},
            422,
            "/feedback",
            id="feedback too deep",
        ),
        pytest.param(
            f"/v1/spans/{SPAN}",
            {"feedback": {"note": "a\u0000"}},
            422,
            "/feedback/note",
            id="NUL in feedback",
        ),
        pytest.param(
            f"/v1/spans/{SPAN}", {"feedback": {"a": 1}, "id": "a b"}, 422, "/id", id="bad event id"
        ),
    ],
)
def test_bad_enrichment_is_refused(
    api: httpx.Client, path: str, body: Any, status: int, pointer: str | None
) -> None:
    if isinstance(body, bytes):
        response = api.patch(path, content=body, headers={"content-type": "application/json"})
    else:
        response = api.patch(path, json=body)
    problem(response, status, pointer)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"attributes": {"note": "a\u0000"}}, "/attributes/note"),
        ({"tags": ["ok", "\u0000"]}, "/tags/1"),
    ],
    ids=["attribute", "tag"],
)
def test_nul_in_enrichment_attributes_and_tags_is_422(
    api: httpx.Client, body: dict[str, Any], pointer: str
) -> None:
    problem(api.patch(f"/v1/spans/{SPAN}", json=body), 422, pointer)


def test_unknown_enrichment_field_names_its_pointer(api: httpx.Client) -> None:
    problem(
        api.patch(f"/v1/spans/{SPAN}", json={"attributes": {}, "colour": "red"}), 422, "/colour"
    )


@pytest.mark.parametrize(
    "trace_id",
    [
        "xyz",
        "0" * 32,
        TRACE + "a",
        TRACE[:-1] + "g",
        "4bf92f35-77b3-4da6-a3ce-929d0e0e4736",
        "%00" * 32,
    ],
)
def test_get_trace_with_a_bad_id_is_422(api: httpx.Client, trace_id: str) -> None:
    problem(api.get(f"/v1/traces/{trace_id}"), 422, "/trace_id")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    ["!!!", "not a cursor", "A" * 10_000, b64(b"[1]"), b64(b"[1, 2]"), b64(b'{"at": 1}'),
     b64(b'["x", 1]'), b64(b"[1e400, \"x\"]"), b64(b"\xff\xfe"), b64(b"[" * 50)],
)  # fmt: skip
def test_cursor_that_is_not_ours_is_400(api: httpx.Client, cursor: str) -> None:
    problem(api.get("/v1/feedback", params={"cursor": cursor}), 400)


@pytest.mark.parametrize(
    "raw",
    [b'[99999999999999999999999, "x"]', b'[0, "a\\u0000b"]', b"[" * 5000],
    ids=["huge", "nul", "deep"],
)
def test_forged_cursor_is_400(api: httpx.Client, raw: bytes) -> None:
    problem(api.get("/v1/feedback", params={"cursor": b64(raw)}), 400)


@pytest.mark.parametrize(
    ("params", "pointer"),
    [({"limit": "0"}, "/limit"), ({"limit": "1001"}, "/limit"), ({"limit": "lots"}, "/limit"),
     ({"since": "yesterday"}, "/since"), ({"until": "2026-13-01"}, "/until")],
)  # fmt: skip
def test_bad_list_parameters_name_the_parameter(
    api: httpx.Client, params: dict[str, str], pointer: str
) -> None:
    status = 400 if "limit" in params else 422
    problem(api.get("/v1/feedback", params=params), status, pointer)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [(deep_arrays(100_000), None), (b'{"filters": ' + deep_arrays(5_000) + b"}", None),
     (b'{"query": "count since 99999999999d"}', "/query"),
     (b'{"query": "count until 9999999999999999999999999w"}', "/query"),
     (b'{"metrics": ["count"], "since": "99999999999d"}', "/since"),
     (b'{"metrics": ["count"], "until": "' + b"9" * 5000 + b'm"}', "/until")],
    ids=["deep array", "deep filters", "huge since", "huge until", "huge /since", "5000 digits"],
)  # fmt: skip
def test_bad_queries_are_400_never_500(api: httpx.Client, body: bytes, pointer: str | None) -> None:
    response = api.post("/v1/query", content=body, headers={"content-type": "application/json"})
    problem(response, 400, pointer)


def test_lists_error_shape_for_routes_and_methods(api: httpx.Client) -> None:
    problem(api.get("/v1/no-such-thing"), 404)
    problem(api.put("/v1/feedback", json=EVENT), 405)


@pytest.mark.parametrize("field", ["name", "user_id", "capability", "trace_id"])
def test_nul_in_a_list_filter_is_422(api: httpx.Client, field: str) -> None:
    problem(api.get("/v1/feedback", params={field: "a\u0000b"}), 422, f"/{field}")


def test_extreme_timestamps_are_stored_and_read_back(api: httpx.Client, unique: str) -> None:
    """The earliest and latest times there are: storing them must not break reading."""
    name = f"extreme-{unique}"
    moments = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"]
    events = [
        with_event(id=f"x{i}-{unique}", name=name, timestamp=t) for i, t in enumerate(moments)
    ]
    results = api.post("/v1/feedback", json={"feedback": events}).json()["results"]
    assert [r["status"] for r in results] == ["created", "created"]
    listed = api.get("/v1/feedback", params={"name": name})
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()["items"]] == [f"x1-{unique}", f"x0-{unique}"]
    assert api.get(f"/v1/feedback/x0-{unique}").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/v1/feedback/a%00b", 404), ("DELETE", "/v1/feedback/a%00b", 404),
     ("DELETE", "/v1/tokens/a%00b", 404),
     # A config name is chosen by the caller and has rules (no NUL): breaking them is a 422
     # naming the parameter; an event or token id that cannot exist is simply not found.
     ("DELETE", "/v1/feedback-configs/a%00b", 422)],
)  # fmt: skip
def test_nul_in_a_path_id_is_not_a_crash(
    api: httpx.Client, method: str, path: str, status: int
) -> None:
    response = api.request(method, path)
    problem(response, status, "/name" if status == 422 else None)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [({"scopes": ["read"], "name": "a\u0000"}, "/name"),
     ({"scopes": ["read"], "origins": ["http://a\u0000"]}, "/origins/0")],
    ids=["name", "origin"],
)  # fmt: skip
def test_nul_in_a_new_token_is_422(api: httpx.Client, body: dict[str, Any], pointer: str) -> None:
    problem(api.post("/v1/tokens", json=body), 422, pointer)


# Property: whatever arrives, the answer is never a 5xx, and every error is problem+json.
FIELDS = [*FeedbackIn.__struct_fields__, "token", "feedback"]
WEIRD_TEXT = st.text(
    alphabet=st.characters() | st.sampled_from(["\x00", "\ud800", "\udfff", "€", "/"]),
    max_size=12,
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.sampled_from([10**400, -(2**64), 2**63, 1.7e308, -0.0, 5e-324])
    | st.floats(allow_nan=False, allow_infinity=False)
    | WEIRD_TEXT
    | st.sampled_from(
        [
            TRACE,
            SPAN,
            "0" * 32,
            "up",
            "down",
            "thumb",
            "object",
            "end_user",
            f"00-{TRACE}-{SPAN}-01",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59.999999Z",
        ]
    )
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(WEIRD_TEXT | st.sampled_from(FIELDS), inner, max_size=3)
    ),
    max_leaves=12,
)
EVENTS = st.dictionaries(st.sampled_from(FIELDS) | WEIRD_TEXT, JSONISH, max_size=8)
BODIES = st.one_of(
    EVENTS,
    st.fixed_dictionaries(
        {"name": st.just("q"), "trace_id": st.just(TRACE)},
        optional={f: JSONISH for f in FIELDS if f not in ("name", "trace_id")},
    ),
    st.builds(lambda items: {"feedback": items}, st.lists(EVENTS | JSONISH, max_size=4)),
    JSONISH,
)


def encodings(body: Any) -> st.SearchStrategy[bytes]:
    ascii_json = json.dumps(body, ensure_ascii=True).encode()
    raw_json = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return st.sampled_from([ascii_json, raw_json]) | st.builds(
        lambda cut: ascii_json[:cut], st.integers(0, max(len(ascii_json) - 1, 0))
    )


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    content=BODIES.flatmap(encodings) | st.binary(max_size=64),
    content_type=st.sampled_from(["application/json", "text/plain", None, "application/xml"]),
)
def test_random_bodies_never_answer_5xx(
    api: httpx.Client, content: bytes, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = api.post("/v1/feedback", content=content, headers=headers)
    assert response.status_code < 500, (content[:300], response.text)
    if response.status_code >= 400:
        problem(response, response.status_code)
    else:
        assert response.status_code == 200
        assert all(
            r["status"] in ("created", "duplicate", "revised", "rejected")
            for r in response.json()["results"]
        )


def test_server_still_serves_after_the_battery(api: httpx.Client, unique: str) -> None:
    """Last in the file: the battery again back to back, then health and a normal round trip."""
    for body in UNREADABLE.values():
        assert post_raw(api, body).status_code == 400
    for _, event, _, _ in INVALID:
        assert api.post("/v1/feedback", json=event).status_code == 422
    assert api.post("/v1/feedback", json={"feedback": [EVENT] * 1001}).status_code == 413
    assert post_raw(api, b"x" * (5 * 1024 * 1024 + 1)).status_code == 413
    assert api.get("/healthz").status_code == 200
    assert api.get("/readyz").status_code == 200
    event = with_event(id=f"after-{unique}", comment="still here")
    assert api.post("/v1/feedback", json=event).json()["results"][0]["status"] == "created"
    stored = api.get(f"/v1/feedback/after-{unique}").json()
    assert stored["comment"] == "still here" and stored["value"] == 1
    # everything the battery (and the property test) stored can still be listed, page by page
    cursor, seen = None, set()
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/feedback", params=params)
        assert page.status_code == 200, page.text
        seen |= {item["id"] for item in page.json()["items"]}
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert f"after-{unique}" in seen
