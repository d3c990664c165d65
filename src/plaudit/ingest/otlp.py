"""OTLP/HTTP trace exports: decode a request body into `SpanRecord`s, encode the answers.

The rules follow the OTLP/HTTP specification:

- `Content-Type` is `application/x-protobuf` or `application/json`; anything else is 415.
- `Content-Encoding` is `gzip` or none (`identity`); anything else is 415. The body limit
  applies after decompression (413), and decompression is bounded so a small gzip bomb
  never expands past the limit in memory.
- A body that cannot be decoded at all is 400. Inside a decodable body, bad spans are
  rejected one by one and counted (`partial_success`); the good ones are kept.

Decisions where the specification leaves room:

- An empty or all-zero parent span id means the span is a root.
- A malformed link id rejects its span, like a malformed span id: every id we store is valid.
- A problem outside any span (a resource or scope that is not an object, a list that is not
  a list) makes the whole body undecodable (400), because no span in it can be trusted.
- A span event named `gen_ai.evaluation.result` also becomes a raw feedback dict in
  `DecodedExport.evaluations` (see `plaudit.ingest.evaluations`); the feedback validator
  decides whether it is acceptable.

This module holds the public API, decompression and the protobuf walker. The OTLP-JSON
structs and walkers, with their own decisions, are in `plaudit.ingest.otlp_json`; what both
walkers share (`OtlpError`, `DecodedExport`, the span collector) is in
`plaudit.ingest.otlp_common`. Both walkers are written as tight loops because the per-span
cost bounds how many spans per second the server takes.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterable
from typing import Any

import msgspec
from google.protobuf.message import DecodeError
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from plaudit.core.spans import SPAN_KINDS, STATUS_CODES, LinkFields, SpanRecord, link_fields
from plaudit.ingest.evaluations import (
    EVALUATION_EVENT,
    EVALUATION_EXPLANATION,
    EVALUATION_NAME,
    EVALUATION_SCORE_LABEL,
    EVALUATION_SCORE_VALUE,
)
from plaudit.ingest.otlp_common import (
    TIME_LIMIT,
    UNKNOWN_KIND,
    UNSET,
    Collector,
    DecodedExport,
    OtlpError,
    SpanRejectedError,
    span_times,
)
from plaudit.ingest.otlp_json import decode_json

__all__ = [
    "EVALUATION_EVENT",
    "EVALUATION_EXPLANATION",
    "EVALUATION_NAME",
    "EVALUATION_SCORE_LABEL",
    "EVALUATION_SCORE_VALUE",
    "JSON",
    "PROTOBUF",
    "DecodedExport",
    "OtlpError",
    "decode_export",
    "encode_status",
    "encode_success",
    "media_type",
    "status_code",
]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

_GZIP_ENCODINGS = frozenset({"gzip", "x-gzip"})  # RFC 9110 §8.4.1.3: x-gzip means gzip
_PLAIN_ENCODINGS = frozenset({"", "identity"})
_ZERO_TRACE = bytes(16)
_ZERO_SPAN = bytes(8)

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
    raw = inflate(body, content_encoding, max_bytes)
    if media == PROTOBUF:
        return _decode_protobuf(raw)
    return decode_json(raw)


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
    grpc_code = code if code < 100 else status_code(code)
    if media == JSON:
        return msgspec.json.encode({"code": grpc_code, "message": message})
    return bytes(Status(code=grpc_code, message=message).SerializeToString())


def status_code(http_status: int) -> int:
    """The `google.rpc.Code` (the gRPC status code) that stands for an HTTP status."""
    return _GRPC_CODES.get(http_status, _GRPC_UNKNOWN)


# --- decompression ---------------------------------------------------------------------


def inflate(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
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
    out = Collector()
    keep = out.keep
    for r, resource_spans in enumerate(request.resource_spans):
        resource = pb_attributes(resource_spans.resource.attributes)
        defaults = link_fields(resource)
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            scope = {"name": scope_spans.scope.name, "version": scope_spans.scope.version}
            for i, span in enumerate(scope_spans.spans):
                try:
                    keep(_pb_span(span, resource, scope, defaults))
                except SpanRejectedError as exc:
                    out.reject(f"resource_spans[{r}].scope_spans[{s}].spans[{i}]", str(exc))
    return out.result()


def _pb_span(
    span: Any, resource: dict[str, Any], scope: dict[str, Any], defaults: LinkFields
) -> SpanRecord:
    # Runs for every span: the checks are inlined for the common case (valid ids and times)
    # and the helpers called only to say what is wrong.
    trace_id = span.trace_id
    if len(trace_id) != 16 or trace_id == _ZERO_TRACE:
        _pb_id(trace_id, _ZERO_TRACE, "trace_id")
    span_id = span.span_id
    if len(span_id) != 8 or span_id == _ZERO_SPAN:
        _pb_id(span_id, _ZERO_SPAN, "span_id")
    parent = span.parent_span_id
    if not parent or parent == _ZERO_SPAN:
        parent_id = None
    elif len(parent) == 8:
        parent_id = parent.hex()
    else:
        parent_id = _pb_id(parent, _ZERO_SPAN, "parent_span_id")
    start = span.start_time_unix_nano
    end = span.end_time_unix_nano
    if not (0 <= start < TIME_LIMIT and 0 <= end < TIME_LIMIT):
        span_times(start, end)
    attributes = pb_attributes(span.attributes)
    # An empty repeated field is cheaper to test than to iterate.
    events = span.events
    events = [_pb_event(event) for event in events] if events else []
    links = span.links
    links = [_pb_link(link) for link in links] if links else []
    kind = span.kind
    status = span.status
    code = status.code
    linked = link_fields(attributes, defaults)
    # positional: keyword construction of a Struct costs ten times more (see SpanRecord)
    return SpanRecord(
        trace_id.hex(),
        span_id.hex(),
        parent_id,
        span.name,
        SPAN_KINDS[kind] if 0 <= kind < len(SPAN_KINDS) else UNKNOWN_KIND,
        start,
        end,
        STATUS_CODES[code] if 0 <= code < len(STATUS_CODES) else UNSET,
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
        raise SpanRejectedError(f"{name} has {len(raw)} bytes, expected {len(zero)}")
    if raw == zero:
        raise SpanRejectedError(f"{name} is all zeros")
    return raw.hex()


def _pb_event(event: Any) -> dict[str, Any]:
    return {
        "name": event.name,
        "time_unix_nano": event.time_unix_nano,
        "attributes": pb_attributes(event.attributes),
    }


def _pb_link(link: Any) -> dict[str, Any]:
    return {
        "trace_id": _pb_id(link.trace_id, _ZERO_TRACE, "link trace_id"),
        "span_id": _pb_id(link.span_id, _ZERO_SPAN, "link span_id"),
        "attributes": pb_attributes(link.attributes),
    }


def pb_attributes(pairs: Iterable[Any]) -> dict[str, Any]:
    # A plain loop, and a string (most values) read here without a call: measured faster than
    # a comprehension calling pb_value for each value.
    attributes = {}
    for pair in pairs:
        value = pair.value
        text = value.string_value
        attributes[pair.key] = text if text else pb_value(value)
    return attributes


def pb_value(value: Any) -> Any:
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
        return [pb_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return pb_attributes(value.kvlist_value.values)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    if which == "string_value":
        return text
    return None
