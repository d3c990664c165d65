"""OTLP-JSON trace exports: the structs that mirror OTLP-JSON and the walkers over them.

`plaudit.ingest.otlp.decode_export` hands JSON bodies, already inflated, to `decode_json`.

Decisions where the specification leaves room:

- OTLP-JSON ids are hex, never base64 (base64 is rejected). Upper-case hex is accepted and
  lower-cased, since OTLP does not fix the case and ids are stored lower case.
- Enums may be numbers or, as proto3 JSON allows, the enum value's name.

This path does not use `google.protobuf.json_format`, which silently reads hex ids as
base64. msgspec decodes the body straight into structs that mirror OTLP-JSON (the strict
path); a body that does not fit them (a wrongly typed value, or proto field names such as
`trace_id`) is decoded again level by level (the loose path), so only its bad spans are
rejected. The walkers are written as tight loops because the per-span cost bounds how many
spans per second the server takes.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from plaudit.core.spans import SPAN_KINDS, STATUS_CODES, LinkFields, SpanRecord, link_fields
from plaudit.ingest.otlp_common import (
    UNKNOWN_KIND,
    UNSET,
    Collector,
    DecodedExport,
    OtlpError,
    SpanRejectedError,
    span_times,
)

_T = TypeVar("_T")

_HEX_DIGITS = "0123456789abcdef"

# OTLP-JSON enums are numbers, but proto3 JSON also allows the enum value's name.
_JSON_KINDS: dict[Any, str] = {i: kind for i, kind in enumerate(SPAN_KINDS)} | {
    f"SPAN_KIND_{kind.upper()}": kind for kind in SPAN_KINDS
}
_JSON_STATUS: dict[Any, str] = {i: code for i, code in enumerate(STATUS_CODES)} | {
    f"STATUS_CODE_{code.upper()}": code for code in STATUS_CODES
}


# --- structs ---------------------------------------------------------------------------
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


# --- walkers ---------------------------------------------------------------------------

# What a bad value inside one span raises while it is read: that span is rejected.
# (ValueError: int("x"); RecursionError: arrays nested past Python's recursion limit.)
_SPAN_ERRORS = (SpanRejectedError, ValueError, RecursionError)


def decode_json(raw: bytes) -> DecodedExport:
    """Decode an inflated OTLP-JSON `ExportTraceServiceRequest` body (the strict path).

    Raises:
        OtlpError: 400 for a body that is not a decodable export request.
    """
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
    out = Collector()
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
    out = Collector()
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
    start, end = span_times(int(span.start_time_unix_nano), int(span.end_time_unix_nano))
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
        _JSON_KINDS.get(span.kind, UNKNOWN_KIND),
        start,
        end,
        UNSET if status is None else _JSON_STATUS.get(status.code, UNSET),
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
        raise SpanRejectedError(f"{name} is missing")
    text = value.lower()
    # strip() leaves something only when a character is not a hex digit
    if len(text) != size or text.strip(_HEX_DIGITS):
        raise SpanRejectedError(f"{name} must be {size} hex characters, got {value!r}")
    if not text.strip("0"):
        raise SpanRejectedError(f"{name} is all zeros")
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
