"""OTLP/HTTP trace exports: decode a request body into `SpanRecord`s, encode the answers.

The rules follow the OTLP/HTTP specification (DESIGN §12):

- `Content-Type` is `application/x-protobuf` or `application/json`; anything else is 415.
- `Content-Encoding` is `gzip` or none (`identity`); anything else is 415. The body limit
  applies after decompression (413), and decompression is bounded so a small gzip bomb
  never expands past the limit in memory.
- A body that cannot be decoded at all is 400. Inside a decodable body, bad spans are
  rejected one by one and counted (`partial_success`); the good ones are kept.

Decisions where the specification leaves room:

- OTLP-JSON ids are hex, never base64 (base64 is rejected). Upper-case hex is accepted and
  lower-cased, since OTLP does not fix the case and ids are stored lower case.
- An empty or all-zero parent span id means the span is a root.
- A malformed link id rejects its span, like a malformed span id: every id we store is valid.
- A problem outside any span (a resource or scope that is not an object, a list that is not
  a list) makes the whole body undecodable (400), because no span in it can be trusted.
- A span event named `gen_ai.evaluation.result` also becomes a raw feedback dict in
  `DecodedExport.evaluations`; the feedback validator decides whether it is acceptable.

The JSON path does not use `google.protobuf.json_format`, which silently reads hex ids as
base64. msgspec decodes the body straight into structs that mirror OTLP-JSON; a body that
does not fit them (a wrongly typed value, or proto field names such as `trace_id`) is
decoded again level by level, so only its bad spans are rejected. Both walkers are written
as tight loops because the per-span cost bounds how many spans per second the server takes.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from google.protobuf.message import DecodeError
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from plaudit.core.spans import SPAN_KINDS, STATUS_CODES, LinkFields, SpanRecord, link_fields

_T = TypeVar("_T")

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

EVALUATION_EVENT = "gen_ai.evaluation.result"
EVALUATION_NAME = "gen_ai.evaluation.name"
EVALUATION_SCORE_VALUE = "gen_ai.evaluation.score.value"
EVALUATION_SCORE_LABEL = "gen_ai.evaluation.score.label"
EVALUATION_EXPLANATION = "gen_ai.evaluation.explanation"
_EVALUATION_PREFIX = "gen_ai.evaluation."

_MAX_REASONS = 3  # partial_success names the first few problems; one is usually enough to fix
_GZIP_ENCODINGS = frozenset({"gzip", "x-gzip"})  # RFC 9110 §8.4.1.3: x-gzip means gzip
_PLAIN_ENCODINGS = frozenset({"", "identity"})
_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)
_HEX_DIGITS = "0123456789abcdef"
_UNKNOWN_KIND = "unspecified"
_UNSET = "unset"
_TIME_LIMIT = 1 << 63  # times are stored as signed 64-bit integers

# OTLP-JSON enums are numbers, but proto3 JSON also allows the enum value's name.
_JSON_KINDS: dict[Any, str] = {i: kind for i, kind in enumerate(SPAN_KINDS)} | {
    f"SPAN_KIND_{kind.upper()}": kind for kind in SPAN_KINDS
}
_JSON_STATUS: dict[Any, str] = {i: code for i, code in enumerate(STATUS_CODES)} | {
    f"STATUS_CODE_{code.upper()}": code for code in STATUS_CODES
}

# google.rpc.Code for the HTTP statuses the trace endpoint answers with.
_GRPC_CODES = {
    400: 3,  # INVALID_ARGUMENT
    401: 16,  # UNAUTHENTICATED
    403: 7,  # PERMISSION_DENIED
    404: 5,  # NOT_FOUND
    408: 4,  # DEADLINE_EXCEEDED
    413: 8,  # RESOURCE_EXHAUSTED: what gRPC itself answers to an oversized message
    415: 12,  # UNIMPLEMENTED: that encoding is not implemented here
    429: 8,  # RESOURCE_EXHAUSTED
    500: 13,  # INTERNAL
    502: 14,  # UNAVAILABLE
    503: 14,
    504: 14,
}
_GRPC_UNKNOWN = 2


class OtlpError(Exception):
    """A request the trace endpoint must refuse as a whole.

    Attributes:
        status: the HTTP status (400 undecodable, 413 too large, 415 unsupported type or
            encoding).
        message: what is wrong and how to fix it; goes into the `google.rpc.Status` body.
        retry_after: seconds for a `Retry-After` header, only for retryable statuses.
    """

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class DecodedExport:
    """The outcome of decoding one export request.

    Attributes:
        spans: the spans that passed the checks, in request order.
        rejected_spans: how many spans were dropped.
        error_message: "" when none were dropped, else the first few reasons.
        evaluations: raw feedback dicts made from `gen_ai.evaluation.result` events of kept
            spans, for the feedback validator.
    """

    spans: list[SpanRecord]
    rejected_spans: int = 0
    error_message: str = ""
    evaluations: list[dict[str, Any]] = field(default_factory=list)


class _SpanRejectedError(Exception):
    """One span cannot be kept; the message says why."""


class _Collector:
    """Accumulates kept spans, their evaluation feedback, and rejection reasons."""

    __slots__ = ("evaluations", "reasons", "rejected", "spans")

    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []
        self.evaluations: list[dict[str, Any]] = []
        self.rejected = 0
        self.reasons: list[str] = []

    def keep(self, record: SpanRecord) -> None:
        self.spans.append(record)
        if record.events:
            self.evaluations.extend(_evaluations(record))

    def reject(self, where: str, why: str) -> None:
        self.rejected += 1
        if len(self.reasons) < _MAX_REASONS:
            self.reasons.append(f"{where}: {why}")

    def result(self) -> DecodedExport:
        message = ""
        if self.rejected:
            more = self.rejected - len(self.reasons)
            message = f"{self.rejected} span(s) rejected: " + "; ".join(self.reasons)
            if more:
                message += f"; and {more} more"
        return DecodedExport(self.spans, self.rejected, message, self.evaluations)


def media_type(content_type_header: str | None) -> str:
    """The request's media type without parameters, if it is one OTLP/HTTP allows.

    Raises:
        OtlpError: 415 when the header is missing or names another type.
    """
    media = (content_type_header or "").split(";", 1)[0].strip().lower()
    if media in (PROTOBUF, JSON):
        return media
    shown = content_type_header or "no Content-Type"
    raise OtlpError(415, f"unsupported media type {shown!r}: send {PROTOBUF} or {JSON}")


def decode_export(
    body: bytes, content_type: str | None, content_encoding: str | None, max_bytes: int
) -> DecodedExport:
    """Decode an OTLP/HTTP `ExportTraceServiceRequest` body.

    Args:
        body: the request body as received.
        content_type: the `Content-Type` header.
        content_encoding: the `Content-Encoding` header.
        max_bytes: the largest body accepted, measured after decompression.

    Raises:
        OtlpError: 415 for an unsupported type or encoding, 413 for a body over `max_bytes`,
            400 for a body that is not a decodable export request.
    """
    media = media_type(content_type)
    raw = _inflate(body, content_encoding, max_bytes)
    if media == PROTOBUF:
        return _decode_protobuf(raw)
    return _decode_json(raw)


def encode_success(decoded: DecodedExport, media: str) -> bytes:
    """The `ExportTraceServiceResponse` body for a 200 answer, in `media`.

    Full success is the empty message, as the specification asks; otherwise
    `partial_success` carries the rejected count and the reasons.
    """
    json = media == JSON
    if not decoded.rejected_spans:
        return b"{}" if json else b""
    if json:
        # proto3 JSON writes int64 as a decimal string
        partial = {
            "rejectedSpans": str(decoded.rejected_spans),
            "errorMessage": decoded.error_message,
        }
        return msgspec.json.encode({"partialSuccess": partial})
    answer = ExportTraceServiceResponse(
        partial_success=ExportTracePartialSuccess(
            rejected_spans=decoded.rejected_spans, error_message=decoded.error_message
        )
    )
    return bytes(answer.SerializeToString())


def encode_status(code: int, message: str, media: str) -> bytes:
    """A `google.rpc.Status` error body in `media` (protobuf unless `media` is JSON).

    Args:
        code: the HTTP status of the answer, mapped to the matching `google.rpc.Code`
            (400 → INVALID_ARGUMENT, 503 → UNAVAILABLE, …). A value below 100 is taken as a
            `google.rpc.Code` already.
        message: the human explanation.
        media: `PROTOBUF` or `JSON`, the request's media type.
    """
    grpc_code = code if code < 100 else _GRPC_CODES.get(code, _GRPC_UNKNOWN)
    if media == JSON:
        return msgspec.json.encode({"code": grpc_code, "message": message})
    return bytes(Status(code=grpc_code, message=message).SerializeToString())


# --- decompression ---------------------------------------------------------------------


def _inflate(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """The body with its content encoding removed, at most `max_bytes` long."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in _PLAIN_ENCODINGS:
        if len(body) > max_bytes:
            raise _too_large(max_bytes)
        return body
    if encoding not in _GZIP_ENCODINGS:
        raise OtlpError(
            415, f"unsupported Content-Encoding {content_encoding!r}: send gzip or no encoding"
        )
    return _gunzip(body, max_bytes)


def _gunzip(body: bytes, max_bytes: int) -> bytes:
    """Decompress every gzip member of `body`, never producing more than `max_bytes + 1`."""
    parts: list[bytes] = []
    size = 0
    rest = body
    while True:
        inflater = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer required
        try:
            part = inflater.decompress(rest, max_bytes + 1 - size)
        except zlib.error as exc:
            raise OtlpError(400, f"body is not valid gzip: {exc}") from None
        size += len(part)
        if size > max_bytes:
            raise _too_large(max_bytes)
        parts.append(part)
        if not inflater.eof:
            raise OtlpError(400, "body is not valid gzip: the stream is truncated")
        # RFC 1952 allows several members back to back; their contents concatenate.
        rest = inflater.unused_data
        if not rest:
            return b"".join(parts)


def _too_large(max_bytes: int) -> OtlpError:
    return OtlpError(413, f"body is larger than the limit of {max_bytes} bytes after decompression")


# --- protobuf --------------------------------------------------------------------------


def _decode_protobuf(raw: bytes) -> DecodedExport:
    try:
        request = ExportTraceServiceRequest.FromString(raw)
    except DecodeError as exc:
        raise OtlpError(400, f"body is not a protobuf ExportTraceServiceRequest: {exc}") from None
    out = _Collector()
    for r, resource_spans in enumerate(request.resource_spans):
        resource = _pb_attributes(resource_spans.resource.attributes)
        defaults = link_fields(resource)
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            scope = {"name": scope_spans.scope.name, "version": scope_spans.scope.version}
            for i, span in enumerate(scope_spans.spans):
                try:
                    out.keep(_pb_span(span, resource, scope, defaults))
                except _SpanRejectedError as exc:
                    out.reject(f"resource_spans[{r}].scope_spans[{s}].spans[{i}]", str(exc))
    return out.result()


def _pb_span(
    span: Any, resource: dict[str, Any], scope: dict[str, Any], defaults: LinkFields
) -> SpanRecord:
    trace_id = _pb_id(span.trace_id, _ZERO_TRACE, "trace_id")
    span_id = _pb_id(span.span_id, _ZERO_SPAN, "span_id")
    parent = span.parent_span_id
    parent_id = (
        None if not parent or parent == _ZERO_SPAN else _pb_id(parent, _ZERO_SPAN, "parent_span_id")
    )
    start, end = _times(span.start_time_unix_nano, span.end_time_unix_nano)
    attributes = _pb_attributes(span.attributes)
    events = [_pb_event(event) for event in span.events]
    links = [_pb_link(link) for link in span.links]
    kind = span.kind
    status = span.status
    code = status.code
    linked = link_fields(attributes, defaults)
    # positional: keyword construction of a Struct costs ten times more (see SpanRecord)
    return SpanRecord(
        trace_id,
        span_id,
        parent_id,
        span.name,
        SPAN_KINDS[kind] if 0 <= kind < len(SPAN_KINDS) else _UNKNOWN_KIND,
        start,
        end,
        STATUS_CODES[code] if 0 <= code < len(STATUS_CODES) else _UNSET,
        status.message,
        attributes,
        events,
        links,
        resource,
        scope,
        *linked,
    )


def _pb_id(raw: bytes, zero: bytes, name: str) -> str:
    if len(raw) != len(zero):
        raise _SpanRejectedError(f"{name} has {len(raw)} bytes, expected {len(zero)}")
    if raw == zero:
        raise _SpanRejectedError(f"{name} is all zeros")
    return raw.hex()


def _times(start: int, end: int) -> tuple[int, int]:
    if 0 <= start < _TIME_LIMIT and 0 <= end < _TIME_LIMIT:
        return start, end
    raise _SpanRejectedError(f"start and end times must be 0 to 2**63-1 ns, got {start}, {end}")


def _pb_event(event: Any) -> dict[str, Any]:
    return {
        "name": event.name,
        "time_unix_nano": event.time_unix_nano,
        "attributes": _pb_attributes(event.attributes),
    }


def _pb_link(link: Any) -> dict[str, Any]:
    return {
        "trace_id": _pb_id(link.trace_id, _ZERO_TRACE, "link trace_id"),
        "span_id": _pb_id(link.span_id, _ZERO_SPAN, "link span_id"),
        "attributes": _pb_attributes(link.attributes),
    }


def _pb_attributes(pairs: Iterable[Any]) -> dict[str, Any]:
    return {pair.key: _pb_value(pair.value) for pair in pairs}


def _pb_value(value: Any) -> Any:
    """An OTLP `AnyValue` message as a JSON value; bytes become base64 text."""
    text = value.string_value
    if text:  # most values are strings: one field read instead of WhichOneof
        return text
    which = value.WhichOneof("value")
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        return value.double_value
    if which == "bool_value":
        return value.bool_value
    if which == "array_value":
        return [_pb_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return _pb_attributes(value.kvlist_value.values)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    if which == "string_value":
        return text
    return None


# --- JSON ------------------------------------------------------------------------------
#
# The body is decoded straight into these typed structs, which msgspec does about four times
# faster than into dicts. Field names follow the OTLP-JSON spelling (lowerCamelCase); fields
# we do not keep (flags, traceState, dropped counts…) are left undeclared and skipped. When
# a value has an unexpected type, or the body spells fields with the proto names
# (snake_case, which proto3 JSON also allows), `_decode_loose_json` takes over.


class _JsonAnyValue(msgspec.Struct, rename="camel", gc=False):
    string_value: str | None = None
    int_value: int | str | None = None  # int64: a number or a decimal string
    double_value: float | str | None = None  # "NaN", "Infinity" and "-Infinity" are strings
    bool_value: bool | None = None
    array_value: _JsonArrayValue | None = None
    kvlist_value: _JsonKeyValueList | None = None
    bytes_value: str | None = None  # base64, kept as it is


class _JsonKeyValue(msgspec.Struct, gc=False):
    key: str
    value: _JsonAnyValue | None = None


class _JsonArrayValue(msgspec.Struct, gc=False):
    values: list[_JsonAnyValue] = []


class _JsonKeyValueList(msgspec.Struct, gc=False):
    values: list[_JsonKeyValue] = []


class _JsonStatus(msgspec.Struct, gc=False):
    code: int | str = 0
    message: str = ""


class _JsonEvent(msgspec.Struct, rename="camel", gc=False):
    time_unix_nano: int | str = 0
    name: str = ""
    attributes: list[_JsonKeyValue] = []


class _JsonLink(msgspec.Struct, rename="camel", gc=False):
    trace_id: str | None = None
    span_id: str | None = None
    attributes: list[_JsonKeyValue] = []


class _JsonSpan(msgspec.Struct, rename="camel", gc=False):
    trace_id: str | None = None
    span_id: str | None = None
    parent_span_id: str | None = None
    name: str = ""
    kind: int | str = 0
    start_time_unix_nano: int | str = 0
    end_time_unix_nano: int | str = 0
    attributes: list[_JsonKeyValue] = []
    events: list[_JsonEvent] = []
    links: list[_JsonLink] = []
    status: _JsonStatus | None = None


class _JsonScope(msgspec.Struct, gc=False):
    name: str = ""
    version: str = ""


class _JsonResource(msgspec.Struct, gc=False):
    attributes: list[_JsonKeyValue] = []


class _JsonScopeSpans(msgspec.Struct, rename="camel", gc=False):
    scope: _JsonScope | None = None
    spans: list[_JsonSpan] = []


class _JsonResourceSpans(msgspec.Struct, rename="camel", gc=False):
    resource: _JsonResource | None = None
    scope_spans: list[_JsonScopeSpans] = []


class _JsonRequest(msgspec.Struct, gc=False):
    resourceSpans: list[_JsonResourceSpans] = []  # noqa: N815 - the OTLP-JSON name
    # the proto-name spelling, only to notice it: `_decode_loose_json` reads such bodies
    resource_spans: Any = None


_JSON_REQUEST = msgspec.json.Decoder(_JsonRequest)

# What a bad value inside one span raises while it is read: that span is rejected.
# (ValueError: int("x"); RecursionError: arrays nested past Python's recursion limit.)
_SPAN_ERRORS = (_SpanRejectedError, ValueError, RecursionError)


def _decode_json(raw: bytes) -> DecodedExport:
    try:
        request = _JSON_REQUEST.decode(raw)
    except msgspec.ValidationError:
        return _decode_loose_json(raw)
    except msgspec.DecodeError as exc:
        raise OtlpError(400, f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise OtlpError(400, "body is nested too deeply") from None
    if request.resource_spans is not None:
        return _decode_loose_json(raw)
    out = _Collector()
    for r, resource_spans in enumerate(request.resourceSpans):
        where = f"resourceSpans[{r}]"
        resource = _json_resource(resource_spans.resource, where)
        defaults = link_fields(resource)
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            scope = _json_scope(scope_spans.scope)
            for i, span in enumerate(scope_spans.spans):
                try:
                    out.keep(_json_span(span, resource, scope, defaults))
                except _SPAN_ERRORS as exc:
                    out.reject(f"{where}.scopeSpans[{s}].spans[{i}]", str(exc))
    return out.result()


def _decode_loose_json(raw: bytes) -> DecodedExport:
    """Decode an OTLP-JSON body level by level, so a span of the wrong shape rejects only itself.

    This is the slow path: for bodies with a wrongly typed value somewhere, or spelt with
    proto field names (`resource_spans`, `trace_id`), which are renamed first.
    """
    try:
        document = _camel_keys(msgspec.json.decode(raw))
    except msgspec.DecodeError as exc:
        raise OtlpError(400, f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise OtlpError(400, "body is nested too deeply") from None
    out = _Collector()
    for r, resource_spans in enumerate(_json_list(document, "resourceSpans", "")):
        where = f"resourceSpans[{r}]"
        resource = _json_resource(_loose(resource_spans, "resource", _JsonResource, where), where)
        defaults = link_fields(resource)
        for s, scope_spans in enumerate(_json_list(resource_spans, "scopeSpans", where)):
            here = f"{where}.scopeSpans[{s}]"
            scope = _json_scope(_loose(scope_spans, "scope", _JsonScope, here))
            for i, span in enumerate(_json_list(scope_spans, "spans", here)):
                try:
                    record = _json_span(msgspec.convert(span, _JsonSpan), resource, scope, defaults)
                except (msgspec.ValidationError, *_SPAN_ERRORS) as exc:
                    out.reject(f"{here}.spans[{i}]", str(exc))
                else:
                    out.keep(record)
    return out.result()


def _camel_keys(value: Any) -> Any:
    """`value` with every object key in lowerCamelCase (`trace_id` → `traceId`).

    Safe for OTLP-JSON because its object keys are all field names: attribute keys are
    values of a `key` field, never object keys.
    """
    if isinstance(value, dict):
        return {_camel(key): _camel_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel_keys(item) for item in value]
    return value


def _camel(name: str) -> str:
    if "_" not in name:
        return name
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _json_list(parent: Any, key: str, where: str) -> list[Any]:
    """The array under `key` of the JSON object at `where` ("" for the body); [] when absent."""
    if not isinstance(parent, dict):
        raise OtlpError(400, f"{where or 'the body'} must be a JSON object, got {_kind(parent)}")
    items = parent.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        path = f"{where}.{key}" if where else key
        raise OtlpError(400, f"{path} must be a JSON array, got {_kind(items)}")
    return items


def _loose(parent: Any, key: str, kind: type[_T], where: str) -> _T | None:
    """The object under `key`, converted to `kind`; a wrong shape makes the body a 400."""
    if not isinstance(parent, dict):
        raise OtlpError(400, f"{where} must be a JSON object, got {_kind(parent)}")
    value = parent.get(key)
    if value is None:
        return None
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        raise OtlpError(400, f"{where}.{key} is malformed: {exc}") from None


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _json_resource(resource: _JsonResource | None, where: str) -> dict[str, Any]:
    if resource is None:
        return {}
    try:
        return _json_attributes(resource.attributes)
    except _SPAN_ERRORS as exc:
        raise OtlpError(400, f"{where}.resource is malformed: {exc}") from None


def _json_scope(scope: _JsonScope | None) -> dict[str, Any]:
    if scope is None:
        return {"name": "", "version": ""}
    return {"name": scope.name, "version": scope.version}


def _json_span(
    span: _JsonSpan, resource: dict[str, Any], scope: dict[str, Any], defaults: LinkFields
) -> SpanRecord:
    trace_id = _hex_id(span.trace_id, 32, "traceId")
    span_id = _hex_id(span.span_id, 16, "spanId")
    parent = span.parent_span_id
    parent_id = None if not parent or not parent.strip("0") else _hex_id(parent, 16, "parentSpanId")
    start, end = _times(int(span.start_time_unix_nano), int(span.end_time_unix_nano))
    attributes = _json_attributes(span.attributes)
    events = [_json_event(event) for event in span.events]
    links = [_json_link(link) for link in span.links]
    status = span.status
    linked = link_fields(attributes, defaults)
    # positional: keyword construction of a Struct costs ten times more (see SpanRecord)
    return SpanRecord(
        trace_id,
        span_id,
        parent_id,
        span.name,
        _JSON_KINDS.get(span.kind, _UNKNOWN_KIND),
        start,
        end,
        _UNSET if status is None else _JSON_STATUS.get(status.code, _UNSET),
        "" if status is None else status.message,
        attributes,
        events,
        links,
        resource,
        scope,
        *linked,
    )


def _hex_id(value: str | None, size: int, name: str) -> str:
    """A hex id of `size` characters, lower-cased; rejects the span otherwise."""
    if not value:
        raise _SpanRejectedError(f"{name} is missing")
    text = value.lower()
    # strip() leaves something only when a character is not a hex digit
    if len(text) != size or text.strip(_HEX_DIGITS):
        raise _SpanRejectedError(f"{name} must be {size} hex characters, got {value!r}")
    if not text.strip("0"):
        raise _SpanRejectedError(f"{name} is all zeros")
    return text


def _json_event(event: _JsonEvent) -> dict[str, Any]:
    return {
        "name": event.name,
        "time_unix_nano": int(event.time_unix_nano),
        "attributes": _json_attributes(event.attributes),
    }


def _json_link(link: _JsonLink) -> dict[str, Any]:
    return {
        "trace_id": _hex_id(link.trace_id, 32, "link traceId"),
        "span_id": _hex_id(link.span_id, 16, "link spanId"),
        "attributes": _json_attributes(link.attributes),
    }


def _json_attributes(pairs: list[_JsonKeyValue]) -> dict[str, Any]:
    return {pair.key: _json_value(pair.value) for pair in pairs}


def _json_value(value: _JsonAnyValue | None) -> Any:
    """An OTLP-JSON `AnyValue` as a JSON value; bytes stay base64 text."""
    if value is None:
        return None
    if value.string_value is not None:
        return value.string_value
    if value.int_value is not None:
        return int(value.int_value)
    if value.double_value is not None:
        return float(value.double_value)
    if value.bool_value is not None:
        return value.bool_value
    if value.array_value is not None:
        return [_json_value(item) for item in value.array_value.values]
    if value.kvlist_value is not None:
        return _json_attributes(value.kvlist_value.values)
    return value.bytes_value


# --- gen_ai.evaluation.result events -> feedback ----------------------------------------


def _evaluations(record: SpanRecord) -> list[dict[str, Any]]:
    found = []
    for event in record.events:
        if event["name"] == EVALUATION_EVENT:
            feedback = _evaluation_feedback(record, event)
            if feedback is not None:
                found.append(feedback)
    return found


def _evaluation_feedback(record: SpanRecord, event: dict[str, Any]) -> dict[str, Any] | None:
    """The raw feedback dict an evaluation event stands for, or None without a name.

    The id is derived from the span, the event time and the name, so a span exported twice
    yields the same feedback id and is stored once.
    """
    attributes = dict(event["attributes"])
    name = attributes.pop(EVALUATION_NAME, None)
    if name.__class__ is not str or not name:
        return None
    time_ns = event["time_unix_nano"] or record.end_time_ns
    comment = attributes.pop(EVALUATION_EXPLANATION, None)
    value = attributes.pop(EVALUATION_SCORE_VALUE, None)
    if value is None:
        value = attributes.pop(EVALUATION_SCORE_LABEL, None)
    feedback = {
        "id": _evaluation_id(record.trace_id, record.span_id, time_ns, name),
        "trace_id": record.trace_id,
        "span_id": record.span_id,
        "name": name,
        "value": value,
        "comment": comment,
        "source": "evaluator",
        "timestamp": _rfc3339(time_ns),
        "metadata": {_metadata_key(key): item for key, item in attributes.items()} or None,
    }
    return {key: item for key, item in feedback.items() if item is not None}


def _evaluation_id(trace_id: str, span_id: str, time_ns: int, name: str) -> str:
    digest = hashlib.sha256(f"{trace_id}:{span_id}:{time_ns}:{name}".encode()).hexdigest()
    return "otel-" + digest[:32]


def _metadata_key(attribute: str) -> str:
    """One path segment per attribute (`score.label` → `score_label`), so queries on
    `metadata.<key>` are unambiguous."""
    attribute = attribute.removeprefix(_EVALUATION_PREFIX)
    return attribute.replace(".", "_")


def _rfc3339(time_ns: int) -> str | None:
    """RFC 3339 in UTC with microseconds; None for an unset (0) or impossible time."""
    if time_ns <= 0:
        return None
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    try:
        moment = datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=nanos // 1000)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
