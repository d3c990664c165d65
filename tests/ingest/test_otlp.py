"""OTLP/HTTP decoding and answers, driven by spans from the real OpenTelemetry SDK.

Bodies are made by the exporters' own encoders (protobuf and JSON), so these tests pin
Plaudit to what real senders put on the wire. Malformed bodies are made by editing real
ones, never by hand from scratch, except where the SDK cannot produce a value (kvlist).
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from google.protobuf import json_format
from google.rpc.status_pb2 import Status
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans as encode_json
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as encode_pb
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as PbResource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, StatusCode, Tracer
from opentelemetry.trace import Status as OtelStatus

from plaudit.core.spans import SpanRecord, link_fields
from plaudit.ingest.otlp import (
    JSON,
    PROTOBUF,
    DecodedExport,
    OtlpError,
    decode_export,
    encode_status,
    encode_success,
    media_type,
)

LIMIT = 64 << 20
DERIVED = ("capability", "step", "conversation_id", "user_id")


# --- making real exports -----------------------------------------------------------------


def export_spans(
    build: Callable[[Tracer], None], resource: dict[str, Any] | None = None
) -> tuple[ReadableSpan, ...]:
    """Run `build` against a real TracerProvider and return the finished spans."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(resource or {"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    build(provider.get_tracer("shop.llm", "2.1.0"))
    provider.shutdown()
    return exporter.get_finished_spans()


def pb_body(spans: Sequence[ReadableSpan]) -> bytes:
    return bytes(encode_pb(spans).SerializeToString())


def json_body(spans: Sequence[ReadableSpan]) -> bytes:
    return str(encode_json(spans).to_json()).encode()


@dataclass(frozen=True)
class Wire:
    """One OTLP/HTTP encoding: its media type and the real exporter's encoder."""

    media: str
    encode: Callable[[Sequence[ReadableSpan]], bytes]

    def decode(self, spans: Sequence[ReadableSpan]) -> DecodedExport:
        return decode_export(self.encode(spans), self.media, None, LIMIT)


WIRES = {"protobuf": Wire(PROTOBUF, pb_body), "json": Wire(JSON, json_body)}


@pytest.fixture(params=sorted(WIRES))
def wire(request: pytest.FixtureRequest) -> Wire:
    return WIRES[request.param]


def as_json_value(value: Any) -> Any:
    """What an SDK attribute value should become: tuples are lists, bytes base64 text."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, (tuple, list)):
        return [as_json_value(item) for item in value]
    return value


def as_json_attributes(attributes: Any) -> dict[str, Any]:
    return {key: as_json_value(value) for key, value in (attributes or {}).items()}


def expected(span: ReadableSpan) -> dict[str, Any]:
    """The record fields a span must decode to, computed from the SDK's own objects."""
    context = span.get_span_context()
    assert context is not None
    scope = span.instrumentation_scope
    assert scope is not None
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else None,
        "name": span.name,
        "kind": span.kind.name.lower(),
        "start_time_ns": span.start_time,
        "end_time_ns": span.end_time,
        "status_code": span.status.status_code.name.lower(),
        "status_message": span.status.description or "",
        "attributes": as_json_attributes(span.attributes),
        "events": [
            {
                "name": event.name,
                "time_unix_nano": event.timestamp,
                "attributes": as_json_attributes(event.attributes),
            }
            for event in span.events
        ],
        "links": [
            {
                "trace_id": format(link.context.trace_id, "032x"),
                "span_id": format(link.context.span_id, "016x"),
                "attributes": as_json_attributes(link.attributes),
            }
            for link in span.links
        ],
        "resource": as_json_attributes(span.resource.attributes),
        "scope": {"name": scope.name, "version": scope.version or ""},
    }


def without_derived(record: SpanRecord) -> dict[str, Any]:
    fields = msgspec.structs.asdict(record)
    for name in DERIVED:
        del fields[name]
    return fields


def by_name(decoded: DecodedExport) -> dict[str, SpanRecord]:
    return {record.name: record for record in decoded.spans}


# --- round trips -----------------------------------------------------------------------


def agent_trace(tracer: Tracer) -> None:
    with tracer.start_as_current_span(
        "chat",
        kind=SpanKind.SERVER,
        attributes={
            "text": "hello",
            "count": 3,
            "ratio": 0.25,
            "flag": True,
            "blob": b"\x00\x01\xfe",
            "words": ["a", "b"],
            "numbers": [1, 2, 3],
            "ratios": [0.5, 1.5],
            "flags": [True, False],
        },
    ) as root:
        root.add_event("user.message", {"length": 12}, timestamp=1_700_000_000_123_456_789)
        with tracer.start_as_current_span("retrieve", kind=SpanKind.CLIENT) as retrieve:
            retrieve.set_status(OtelStatus(StatusCode.ERROR, "index offline"))
        with tracer.start_as_current_span(
            "respond",
            links=[Link(root.get_span_context(), {"link.reason": "follows"})],
        ) as respond:
            respond.set_status(OtelStatus(StatusCode.OK))


def test_every_field_round_trips(wire: Wire) -> None:
    spans = export_spans(agent_trace, {"service.name": "shop", "deployment.environment": "prod"})

    decoded = wire.decode(spans)

    assert decoded.rejected_spans == 0
    assert decoded.error_message == ""
    assert [without_derived(record) for record in decoded.spans] == [expected(s) for s in spans]


def test_tree_shape_survives(wire: Wire) -> None:
    decoded = by_name(wire.decode(export_spans(agent_trace)))

    root = decoded["chat"]
    assert root.parent_span_id is None
    assert decoded["retrieve"].parent_span_id == root.span_id
    assert decoded["respond"].parent_span_id == root.span_id
    assert {record.trace_id for record in decoded.values()} == {root.trace_id}
    assert decoded["respond"].links[0]["span_id"] == root.span_id
    assert (decoded["retrieve"].status_code, decoded["retrieve"].status_message) == (
        "error",
        "index offline",
    )
    assert decoded["respond"].status_code == "ok"
    assert root.scope == {"name": "shop.llm", "version": "2.1.0"}


def test_attribute_types_are_kept(wire: Wire) -> None:
    attributes = by_name(wire.decode(export_spans(agent_trace)))["chat"].attributes

    assert type(attributes["count"]) is int
    assert type(attributes["ratio"]) is float
    assert attributes["flag"] is True
    assert attributes["blob"] == base64.b64encode(b"\x00\x01\xfe").decode()
    assert [type(item) for item in attributes["numbers"]] == [int, int, int]
    assert [type(item) for item in attributes["ratios"]] == [float, float]
    assert attributes["flags"] == [True, False]


@pytest.mark.parametrize(
    "kind",
    [SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER],
)
def test_every_span_kind(wire: Wire, kind: SpanKind) -> None:
    def build(tracer: Tracer) -> None:
        tracer.start_span("op", kind=kind).end()

    [record] = wire.decode(export_spans(build)).spans

    assert record.kind == kind.name.lower()


def test_link_fields_come_from_span_then_resource(wire: Wire) -> None:
    def build(tracer: Tracer) -> None:
        tracer.start_span("inherits").end()
        tracer.start_span(
            "overrides",
            attributes={
                "plaudit.capability": "summarize",
                "plaudit.step": "respond",
                "gen_ai.conversation.id": "conv-7",
                "enduser.id": "alice",
                "user.id": "ignored-when-enduser-set",
            },
        ).end()
        tracer.start_span("numeric user", attributes={"user.id": 42}).end()
        tracer.start_span("not an id", attributes={"enduser.id": True}).end()

    resource = {"service.name": "shop", "plaudit.capability": "support-agent", "user.id": "svc"}
    records = by_name(wire.decode(export_spans(build, resource)))

    def links(name: str) -> tuple[str | None, ...]:
        record = records[name]
        return (record.capability, record.step, record.conversation_id, record.user_id)

    assert links("inherits") == ("support-agent", None, None, "svc")
    assert links("overrides") == ("summarize", "respond", "conv-7", "alice")
    assert links("numeric user") == ("support-agent", None, None, "42")
    assert links("not an id") == ("support-agent", None, None, "svc")


def test_build_derives_link_fields() -> None:
    record = SpanRecord.build(
        trace_id="a" * 32,
        span_id="b" * 16,
        name="op",
        start_time_ns=1,
        end_time_ns=2,
        attributes={"plaudit.step": "retrieve", "gen_ai.conversation.id": 7},
        resource={"plaudit.capability": "search", "enduser.id": "bob"},
    )

    assert (record.capability, record.step, record.conversation_id, record.user_id) == (
        "search",
        "retrieve",
        "7",
        "bob",
    )
    assert (record.kind, record.status_code, record.events, record.links) == (
        "internal",
        "unset",
        [],
        [],
    )
    assert msgspec.json.decode(msgspec.json.encode(record), type=SpanRecord) == record


def test_link_fields_without_any_returns_fallback() -> None:
    fallback = ("cap", "step", "conv", "user")
    assert link_fields({"other": 1}, fallback) is fallback


# The SDK cannot put maps or empty values into span attributes, so these bodies are built
# from the OTLP message classes directly.
def kvlist_request() -> ExportTraceServiceRequest:
    nested = AnyValue(
        kvlist_value=KeyValueList(
            values=[
                KeyValue(key="model", value=AnyValue(string_value="gpt")),
                KeyValue(
                    key="sizes",
                    value=AnyValue(
                        array_value=ArrayValue(
                            values=[AnyValue(int_value=1), AnyValue(double_value=2.5)]
                        )
                    ),
                ),
                KeyValue(key="raw", value=AnyValue(bytes_value=b"\xff")),
            ]
        )
    )
    span = Span(
        trace_id=bytes.fromhex("0af7651916cd43dd8448eb211c80319c"),
        span_id=bytes.fromhex("b7ad6b7169203331"),
        name="map",
        kind=Span.SPAN_KIND_PRODUCER,
        start_time_unix_nano=10,
        end_time_unix_nano=20,
        attributes=[
            KeyValue(key="config", value=nested),
            KeyValue(key="nothing", value=AnyValue()),
            KeyValue(key="empty", value=AnyValue(string_value="")),
            KeyValue(key="zero", value=AnyValue(int_value=0)),
        ],
    )
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=PbResource(attributes=[]),
                scope_spans=[ScopeSpans(scope=InstrumentationScope(name="s"), spans=[span])],
            )
        ]
    )


KVLIST_ATTRIBUTES = {
    "config": {"model": "gpt", "sizes": [1, 2.5], "raw": "/w=="},
    "nothing": None,
    "empty": "",
    "zero": 0,
}


def test_kvlist_and_empty_values_protobuf() -> None:
    body = kvlist_request().SerializeToString()

    [record] = decode_export(body, PROTOBUF, None, LIMIT).spans

    assert record.attributes == KVLIST_ATTRIBUTES
    assert record.kind == "producer"
    assert record.scope == {"name": "s", "version": ""}


def test_kvlist_and_number_forms_json() -> None:
    document = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "0af7651916cd43dd8448eb211c80319c",
                                "spanId": "b7ad6b7169203331",
                                "name": "map",
                                "kind": "SPAN_KIND_PRODUCER",
                                "startTimeUnixNano": 10,
                                "endTimeUnixNano": "20",
                                "status": {"code": "STATUS_CODE_ERROR", "message": "x"},
                                "attributes": [
                                    {"key": "config", "value": {"kvlistValue": {"values": [
                                        {"key": "model", "value": {"stringValue": "gpt"}},
                                        {"key": "sizes", "value": {"arrayValue": {"values": [
                                            {"intValue": 1}, {"doubleValue": "2.5"},
                                        ]}}},
                                        {"key": "raw", "value": {"bytesValue": "/w=="}},
                                    ]}}},
                                    {"key": "nothing", "value": {}},
                                    {"key": "empty", "value": {"stringValue": ""}},
                                    {"key": "zero", "value": {"intValue": "0"}},
                                ],
                            }
                        ]
                    }
                ]
            }
        ]
    }  # fmt: skip

    [record] = decode_export(json.dumps(document).encode(), JSON, None, LIMIT).spans

    assert record.attributes == KVLIST_ATTRIBUTES
    assert (record.kind, record.start_time_ns, record.end_time_ns) == ("producer", 10, 20)
    assert (record.status_code, record.status_message) == ("error", "x")
    assert record.resource == {}
    assert record.scope == {"name": "", "version": ""}


def test_json_special_doubles() -> None:
    def build(tracer: Tracer) -> None:
        tracer.start_span(
            "f", attributes={"up": math.inf, "down": -math.inf, "nan": math.nan}
        ).end()

    attributes = (
        decode_export(json_body(export_spans(build)), JSON, None, LIMIT).spans[0].attributes
    )

    assert (attributes["up"], attributes["down"]) == (math.inf, -math.inf)
    assert math.isnan(attributes["nan"])


def test_json_unknown_fields_are_ignored() -> None:
    document = json.loads(json_body(export_spans(agent_trace)))
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span.update({"traceState": "k=v", "droppedAttributesCount": 2, "futureField": {"a": [1]}})
    document["futureTopLevel"] = True

    decoded = decode_export(json.dumps(document).encode(), JSON, None, LIMIT)

    assert decoded.rejected_spans == 0
    assert len(decoded.spans) == 3


def snake_keys(value: Any) -> Any:
    """The OTLP-JSON document spelt with proto field names, as proto3 JSON allows."""
    if isinstance(value, dict):
        renamed = {}
        for key, item in value.items():
            snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
            renamed[snake] = snake_keys(item)
        return renamed
    if isinstance(value, list):
        return [snake_keys(item) for item in value]
    return value


def test_json_proto_field_names_are_accepted() -> None:
    spans = export_spans(agent_trace)
    body = json.dumps(snake_keys(json.loads(json_body(spans)))).encode()
    assert b'"resource_spans"' in body and b'"trace_id"' in body

    decoded = decode_export(body, JSON, None, LIMIT)

    assert [without_derived(record) for record in decoded.spans] == [expected(s) for s in spans]


def test_protobuf_and_json_agree() -> None:
    spans = export_spans(agent_trace)

    assert WIRES["protobuf"].decode(spans) == WIRES["json"].decode(spans)


# hypothesis: any attribute map the SDK accepts comes back as the same JSON values.
_text = st.text(st.characters(codec="utf-8"), max_size=20)
_int64 = st.integers(-(2**63), 2**63 - 1)
_double = st.floats(allow_nan=False)
_attribute_value = st.one_of(
    _text,
    _int64,
    _double,
    st.booleans(),
    st.lists(_text, max_size=4),
    st.lists(_int64, max_size=4),
    st.lists(_double, max_size=4),
    st.lists(st.booleans(), max_size=4),
)


@settings(max_examples=60, deadline=None)
@given(attributes=st.dictionaries(_text.filter(bool), _attribute_value, max_size=8))
def test_any_attributes_round_trip(attributes: dict[str, Any]) -> None:
    def build(tracer: Tracer) -> None:
        tracer.start_span("prop", attributes=attributes).end()

    spans = export_spans(build)
    want = as_json_attributes(spans[0].attributes)
    for wire in WIRES.values():
        [record] = wire.decode(spans).spans
        assert record.attributes == want
        assert [type(value) for value in record.attributes.values()] == [
            type(value) for value in want.values()
        ]


# --- content encoding and size ----------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "GZIP", " gzip ", "x-gzip"])
def test_gzip_bodies(wire: Wire, encoding: str) -> None:
    spans = export_spans(agent_trace)

    decoded = decode_export(gzip.compress(wire.encode(spans)), wire.media, encoding, LIMIT)

    assert decoded == wire.decode(spans)


@pytest.mark.parametrize("encoding", [None, "", "identity"])
def test_plain_bodies(wire: Wire, encoding: str | None) -> None:
    spans = export_spans(agent_trace)

    assert decode_export(wire.encode(spans), wire.media, encoding, LIMIT) == wire.decode(spans)


def test_gzip_members_concatenate() -> None:
    body = ExportTraceServiceRequest(resource_spans=kvlist_request().resource_spans)
    raw = body.SerializeToString()
    # protobuf messages concatenate into a merged message; the span list is doubled
    decoded = decode_export(gzip.compress(raw) + gzip.compress(raw), PROTOBUF, "gzip", LIMIT)

    assert len(decoded.spans) == 2


@pytest.mark.parametrize("encoding", ["deflate", "br", "zstd", "gzip, br", "compress"])
def test_other_encodings_are_415(encoding: str) -> None:
    with pytest.raises(OtlpError) as caught:
        decode_export(b"", PROTOBUF, encoding, LIMIT)

    assert caught.value.status == 415
    assert encoding in caught.value.message
    assert caught.value.retry_after is None


@pytest.mark.parametrize(
    "content_type",
    [None, "", "text/plain", "application/grpc", "application/protobuf", "application/jsonx"],
)
def test_other_media_types_are_415(content_type: str | None) -> None:
    with pytest.raises(OtlpError) as caught:
        decode_export(b"{}", content_type, None, LIMIT)

    assert caught.value.status == 415


@pytest.mark.parametrize(
    ("header", "media"),
    [
        ("application/x-protobuf", PROTOBUF),
        ("Application/X-Protobuf", PROTOBUF),
        ("application/json; charset=utf-8", JSON),
        (" application/json ", JSON),
    ],
)
def test_media_type_normalises(header: str, media: str) -> None:
    assert media_type(header) == media


def test_gzip_bomb_is_413_without_inflating_it() -> None:
    bomb = gzip.compress(b"\x00" * (64 << 20), 9)
    assert len(bomb) < 100_000

    with pytest.raises(OtlpError) as caught:
        decode_export(bomb, PROTOBUF, "gzip", 1 << 20)

    assert caught.value.status == 413
    assert str(1 << 20) in caught.value.message


def test_limit_counts_decompressed_bytes(wire: Wire) -> None:
    raw = wire.encode(export_spans(agent_trace))
    packed = gzip.compress(raw)

    assert decode_export(packed, wire.media, "gzip", len(raw)).spans
    with pytest.raises(OtlpError) as caught:
        decode_export(packed, wire.media, "gzip", len(raw) - 1)
    assert caught.value.status == 413


def test_plain_body_over_limit_is_413() -> None:
    raw = pb_body(export_spans(agent_trace))

    assert decode_export(raw, PROTOBUF, None, len(raw)).spans
    with pytest.raises(OtlpError) as caught:
        decode_export(raw, PROTOBUF, None, len(raw) - 1)
    assert caught.value.status == 413


def undecodable_bodies() -> Iterator[Any]:
    packed = gzip.compress(pb_body(export_spans(agent_trace)))
    yield pytest.param(PROTOBUF, None, b"\xff\xff\xff\xff", id="garbage protobuf")
    yield pytest.param(PROTOBUF, None, b"\x0a\x05ab", id="truncated protobuf")
    yield pytest.param(JSON, None, b"{not json", id="garbage json")
    yield pytest.param(JSON, None, b"", id="empty json")
    yield pytest.param(JSON, None, b"[]", id="json array")
    yield pytest.param(JSON, None, b"null", id="json null")
    yield pytest.param(JSON, None, b'{"resourceSpans": 3}', id="resourceSpans not a list")
    yield pytest.param(JSON, None, b'{"resourceSpans": [7]}', id="resourceSpans item")
    yield pytest.param(
        JSON, None, b'{"resourceSpans": [{"scopeSpans": {}}]}', id="scopeSpans not a list"
    )
    yield pytest.param(
        JSON,
        None,
        b'{"resourceSpans": [{"resource": {"attributes": [{"key": "k", '
        b'"value": {"intValue": "x"}}]}}]}',
        id="bad resource attribute",
    )
    yield pytest.param(
        JSON, None, b'{"resourceSpans": [{"resource": []}]}', id="resource not an object"
    )
    yield pytest.param(JSON, None, b"\xff\xfe{}", id="json not utf-8")
    deep = b'{"arrayValue": {"values": [' * 2000 + b"]}}" * 2000
    yield pytest.param(
        JSON,
        None,
        b'{"resourceSpans": [{"resource": {"attributes": [{"key": "k", "value": '
        + deep
        + b"}]}}]}",
        id="nested too deeply",
    )
    yield pytest.param(PROTOBUF, "gzip", packed[: len(packed) // 2], id="truncated gzip")
    yield pytest.param(PROTOBUF, "gzip", packed[:5], id="gzip header only")
    yield pytest.param(PROTOBUF, "gzip", b"not gzip at all", id="not gzip")
    yield pytest.param(PROTOBUF, "gzip", packed + b"trailing", id="gzip then garbage")
    yield pytest.param(PROTOBUF, "gzip", zlib.compress(b"x"), id="zlib is not gzip")


@pytest.mark.parametrize(("media", "encoding", "body"), list(undecodable_bodies()))
def test_undecodable_bodies_are_400(media: str, encoding: str | None, body: bytes) -> None:
    with pytest.raises(OtlpError) as caught:
        decode_export(body, media, encoding, LIMIT)

    assert caught.value.status == 400
    assert caught.value.message


@pytest.mark.parametrize(
    ("media", "body"),
    [(PROTOBUF, b""), (JSON, b"{}"), (JSON, b'{"resourceSpans": []}')],
)
def test_empty_exports_succeed(media: str, body: bytes) -> None:
    assert decode_export(body, media, None, LIMIT) == DecodedExport(spans=[])


# --- per-span rejection ------------------------------------------------------------------


def five_spans(tracer: Tracer) -> None:
    with tracer.start_as_current_span("root"):
        for index in range(4):
            tracer.start_span(f"child-{index}").end()


def test_protobuf_bad_ids_reject_only_their_span() -> None:
    request = ExportTraceServiceRequest.FromString(pb_body(export_spans(five_spans)))
    spans = request.resource_spans[0].scope_spans[0].spans
    by = {span.name: span for span in spans}
    by["child-0"].trace_id = b"\x01" * 15
    by["child-1"].span_id = bytes(8)
    by["child-2"].parent_span_id = b"\x01\x02\x03\x04"
    by["child-3"].links.add(trace_id=bytes(16), span_id=b"\x01" * 8)

    decoded = decode_export(request.SerializeToString(), PROTOBUF, None, LIMIT)

    assert [record.name for record in decoded.spans] == ["root"]
    assert decoded.rejected_spans == 4
    message = decoded.error_message
    assert message.startswith("4 span(s) rejected: ")
    assert "trace_id has 15 bytes, expected 16" in message
    assert "span_id is all zeros" in message
    assert "parent_span_id has 4 bytes, expected 8" in message
    assert message.endswith("; and 1 more")


def test_protobuf_zero_trace_id_and_short_span_id() -> None:
    request = ExportTraceServiceRequest.FromString(pb_body(export_spans(five_spans)))
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[0].trace_id = bytes(16)
    spans[1].span_id = b"\x01" * 9

    decoded = decode_export(request.SerializeToString(), PROTOBUF, None, LIMIT)

    assert decoded.rejected_spans == 2
    assert "resource_spans[0].scope_spans[0].spans[0]: trace_id is all zeros" in (
        decoded.error_message
    )
    assert "spans[1]: span_id has 9 bytes, expected 8" in decoded.error_message
    assert len(decoded.spans) == 3


def test_all_zero_parent_means_root() -> None:
    request = ExportTraceServiceRequest.FromString(pb_body(export_spans(five_spans)))
    for span in request.resource_spans[0].scope_spans[0].spans:
        span.parent_span_id = bytes(8)
    document = json.loads(json_body(export_spans(five_spans)))
    for span in document["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        span["parentSpanId"] = "0" * 16

    for body, media in [
        (request.SerializeToString(), PROTOBUF),
        (json.dumps(document).encode(), JSON),
    ]:
        decoded = decode_export(body, media, None, LIMIT)
        assert decoded.rejected_spans == 0
        assert {record.parent_span_id for record in decoded.spans} == {None}


def edited_json(edit: Callable[[list[dict[str, Any]]], None], body: bytes | None = None) -> bytes:
    """A real JSON export of `five_spans` (or `body`), with its spans changed by `edit`."""
    document = json.loads(body or json_body(export_spans(five_spans)))
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans.sort(key=lambda span: span["name"])  # children first, then root
    edit(spans)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("traceId", "zz" * 16, "traceId must be 32 hex characters"),
        ("traceId", "0af7651916cd43dd8448eb211c80319", "traceId must be 32 hex characters"),
        # base64 of 16 bytes: what json_format would have accepted silently
        ("traceId", "CvdlGRbNQ92ESOshHIAxnA==", "traceId must be 32 hex characters"),
        ("traceId", "0" * 32, "traceId is all zeros"),
        ("traceId", "0x" + "a" * 30, "traceId must be 32 hex characters"),
        ("spanId", "", "spanId is missing"),
        ("spanId", None, "spanId is missing"),
        ("spanId", "b7ad 6b7169203331", "spanId must be 16 hex characters"),
        ("spanId", "0" * 16, "spanId is all zeros"),
        ("parentSpanId", "b7ad6b71692033", "parentSpanId must be 16 hex characters"),
        ("startTimeUnixNano", "soon", "invalid literal for int()"),
        ("startTimeUnixNano", str(2**63), "start and end times must be 0 to 2**63-1 ns"),
        ("attributes", [{"key": "n", "value": {"intValue": "ten"}}], "invalid literal"),
        ("attributes", [{"key": "n", "value": {"doubleValue": "half"}}], "could not convert"),
    ],
)
def test_json_bad_span_is_rejected_alone(field: str, value: Any, reason: str) -> None:
    def edit(spans: list[dict[str, Any]]) -> None:
        spans[1][field] = value

    decoded = decode_export(edited_json(edit), JSON, None, LIMIT)

    assert decoded.rejected_spans == 1
    assert len(decoded.spans) == 4
    assert "child-1" not in {record.name for record in decoded.spans}
    assert decoded.error_message.startswith(
        "1 span(s) rejected: resourceSpans[0].scopeSpans[0].spans[1]: "
    )
    assert reason in decoded.error_message


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("traceId", 12, "Expected `str | null`, got `int` - at `$.traceId`"),
        ("name", None, "Expected `str`, got `null` - at `$.name`"),
        ("attributes", {"key": "k"}, "Expected `array`, got `object` - at `$.attributes`"),
        ("attributes", [{"value": {}}], "missing required field `key`"),
        ("events", [{"name": 5}], "got `int` - at `$.events[0].name`"),
        ("status", {"code": [2]}, "at `$.status.code`"),
    ],
)
def test_json_wrongly_typed_span_is_rejected_alone(field: str, value: Any, reason: str) -> None:
    def edit(spans: list[dict[str, Any]]) -> None:
        spans[2][field] = value

    decoded = decode_export(edited_json(edit), JSON, None, LIMIT)

    assert decoded.rejected_spans == 1
    assert [record.name for record in decoded.spans] == ["child-0", "child-1", "child-3", "root"]
    assert "resourceSpans[0].scopeSpans[0].spans[2]: " in decoded.error_message
    assert reason in decoded.error_message


def test_json_upper_case_hex_is_accepted_and_lowered() -> None:
    def edit(spans: list[dict[str, Any]]) -> None:
        for span in spans:
            for key in ("traceId", "spanId", "parentSpanId"):
                if key in span:
                    span[key] = span[key].upper()

    body = json_body(export_spans(five_spans))
    lowered = decode_export(edited_json(edit, body), JSON, None, LIMIT)
    original = decode_export(edited_json(lambda spans: None, body), JSON, None, LIMIT)

    assert lowered == original
    assert all(record.trace_id.islower() for record in lowered.spans)


def test_rejection_message_names_the_first_three() -> None:
    def edit(spans: list[dict[str, Any]]) -> None:
        for span in spans:
            span["spanId"] = "nope"

    decoded = decode_export(edited_json(edit), JSON, None, LIMIT)

    assert decoded.spans == []
    assert decoded.rejected_spans == 5
    assert decoded.error_message.count("spanId must be 16 hex characters") == 3
    assert decoded.error_message.endswith("; and 2 more")


# --- gen_ai.evaluation.result events -----------------------------------------------------

EVENT_TIME = 1_750_000_000_123_456_789
EVENT_RFC3339 = "2025-06-15T15:06:40.123456Z"


def evaluated(tracer: Tracer) -> None:
    with tracer.start_as_current_span("respond") as span:
        span.add_event(
            "gen_ai.evaluation.result",
            {
                "gen_ai.evaluation.name": "relevance",
                "gen_ai.evaluation.score.value": 0.75,
                "gen_ai.evaluation.score.label": "relevant",
                "gen_ai.evaluation.explanation": "cites the right doc",
                "gen_ai.response.id": "chatcmpl-1",
            },
            timestamp=EVENT_TIME,
        )
        span.add_event(
            "gen_ai.evaluation.result",
            {"gen_ai.evaluation.name": "tone", "gen_ai.evaluation.score.label": "polite"},
            timestamp=EVENT_TIME + 1,
        )
        span.add_event("gen_ai.evaluation.result", {"gen_ai.evaluation.score.value": 1.0})
        span.add_event("gen_ai.choice", {"gen_ai.evaluation.name": "not an evaluation"})


def test_evaluation_events_become_feedback(wire: Wire) -> None:
    decoded = wire.decode(export_spans(evaluated))
    [record] = decoded.spans

    relevance, tone = decoded.evaluations
    assert relevance == {
        "id": relevance["id"],
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "name": "relevance",
        "value": 0.75,
        "comment": "cites the right doc",
        "source": "evaluator",
        "timestamp": EVENT_RFC3339,
        "metadata": {"score_label": "relevant", "gen_ai_response_id": "chatcmpl-1"},
    }
    assert tone == {
        "id": tone["id"],
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "name": "tone",
        "value": "polite",
        "source": "evaluator",
        "timestamp": EVENT_RFC3339,
    }
    assert len(record.events) == 4  # the events stay on the span as well


def test_evaluation_ids_are_stable_and_distinct() -> None:
    spans = export_spans(evaluated)
    first = WIRES["protobuf"].decode(spans).evaluations
    again = WIRES["json"].decode(spans).evaluations

    assert [item["id"] for item in first] == [item["id"] for item in again]
    assert len({item["id"] for item in first}) == 2
    for item in first:
        assert item["id"].startswith("otel-")
        assert len(item["id"]) == 37


def test_evaluation_time_falls_back_to_span_end() -> None:
    document = json.loads(json_body(export_spans(evaluated)))
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    del span["events"][0]["timeUnixNano"]
    end = datetime.fromtimestamp(int(span["endTimeUnixNano"]) // 10**9, tz=UTC)

    decoded = decode_export(json.dumps(document).encode(), JSON, None, LIMIT)

    assert decoded.evaluations[0]["timestamp"].startswith(end.strftime("%Y-%m-%dT%H:%M:%S."))


def test_evaluations_of_rejected_spans_are_dropped() -> None:
    request = ExportTraceServiceRequest.FromString(pb_body(export_spans(evaluated)))
    request.resource_spans[0].scope_spans[0].spans[0].span_id = b"\x01"

    decoded = decode_export(request.SerializeToString(), PROTOBUF, None, LIMIT)

    assert (decoded.rejected_spans, decoded.evaluations) == (1, [])


# --- answers -----------------------------------------------------------------------------

PARTIAL = DecodedExport(spans=[], rejected_spans=3, error_message="3 span(s) rejected: …")


def test_full_success_is_the_empty_message() -> None:
    full = DecodedExport(spans=[])

    assert encode_success(full, PROTOBUF) == b""
    assert not ExportTraceServiceResponse.FromString(b"").HasField("partial_success")
    as_json = json_format.Parse(encode_success(full, JSON), ExportTraceServiceResponse())
    assert not as_json.HasField("partial_success")


def test_partial_success_round_trips() -> None:
    for answer in (
        ExportTraceServiceResponse.FromString(encode_success(PARTIAL, PROTOBUF)),
        json_format.Parse(encode_success(PARTIAL, JSON), ExportTraceServiceResponse()),
    ):
        assert answer.partial_success.rejected_spans == 3
        assert answer.partial_success.error_message == "3 span(s) rejected: …"
    assert json.loads(encode_success(PARTIAL, JSON)) == {
        "partialSuccess": {"rejectedSpans": "3", "errorMessage": "3 span(s) rejected: …"}
    }


@pytest.mark.parametrize(
    ("code", "grpc"),
    [(400, 3), (401, 16), (403, 7), (413, 8), (415, 12), (429, 8), (500, 13), (503, 14), (418, 2),
     (3, 3), (14, 14)],
)  # fmt: skip
def test_status_bodies_round_trip(code: int, grpc: int) -> None:
    from_pb = Status.FromString(encode_status(code, "why", PROTOBUF))
    from_json = json_format.Parse(encode_status(code, "why", JSON), Status())

    assert (from_pb.code, from_pb.message) == (grpc, "why")
    assert from_json == from_pb


def test_decode_errors_encode_as_status() -> None:
    with pytest.raises(OtlpError) as caught:
        decode_export(b"{oops", JSON, None, LIMIT)
    error = caught.value

    status = json_format.Parse(encode_status(error.status, error.message, JSON), Status())

    assert status.code == 3
    assert status.message.startswith("body is not valid JSON")
