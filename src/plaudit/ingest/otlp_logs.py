"""OTLP/HTTP log exports: the GenAI events among them, as messages of the spans they name.

GenAI instrumentations (`opentelemetry-instrumentation-openai-v2` and others) send a model call's
prompts and answers as log records — one per message, or one
`gen_ai.client.inference.operation.details` record — carrying the span's trace and span ids.
We keep those as the span's input and output messages (`core.genai.event_messages`); every
other record is counted and dropped, since Plaudit is not a log store. Records without a span
id cannot be placed and are rejected (`partial_success`).

The rules are those of `POST /v1/traces` (`plaudit.ingest.otlp`): protobuf or JSON, gzip, the
body limit after decompression, 400 for an undecodable body. OTLP-JSON ids are hex, which
protobuf's JSON parser would read as base64: they are turned into base64 first.
"""

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from plaudit.core.genai import LoggedMessage, event_messages
from plaudit.core.ids import is_span_id, is_trace_id
from plaudit.ingest.otlp import JSON, PROTOBUF, inflate, media_type, pb_attributes, pb_value
from plaudit.ingest.otlp_common import OtlpError

_EVENT_NAME_ATTRIBUTE: Final = "event.name"  # where older SDKs put the event's name


@dataclass(slots=True)
class DecodedLogs:
    """What an export held: the messages to keep, and the records not kept."""

    messages: list[LoggedMessage] = field(default_factory=list)
    ignored: int = 0
    """Records that are not GenAI events: dropped by design."""
    rejected: int = 0
    """GenAI events that name no valid span: reported in `partial_success`."""


def decode_logs(
    body: bytes, content_type: str | None, content_encoding: str | None, max_bytes: int
) -> DecodedLogs:
    """Decode an `ExportLogsServiceRequest` body (see the module docstring)."""
    media = media_type(content_type)
    raw = inflate(body, content_encoding, max_bytes)
    request = ExportLogsServiceRequest()
    try:
        if media == PROTOBUF:
            request.ParseFromString(raw)
        else:
            json_format.ParseDict(_base64_ids(msgspec.json.decode(raw)), request, True)
    except (DecodeError, json_format.ParseError, msgspec.DecodeError, ValueError) as error:
        raise OtlpError(400, f"the body is not an OTLP logs export: {error}") from None
    decoded = DecodedLogs()
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                _take(record, decoded)
    return decoded


def _take(record: Any, decoded: DecodedLogs) -> None:
    attributes = pb_attributes(record.attributes)
    name = record.event_name or str(attributes.get(_EVENT_NAME_ATTRIBUTE, ""))
    body = pb_value(record.body) if record.HasField("body") else None
    found = event_messages(name, body, attributes)
    if found is None:
        decoded.ignored += 1
        return
    trace_id, span_id = record.trace_id.hex(), record.span_id.hex()
    if not (is_trace_id(trace_id) and is_span_id(span_id)):
        decoded.rejected += 1
        return
    digest = hashlib.blake2b(record.SerializeToString(deterministic=True), digest_size=16)
    time = record.time_unix_nano or record.observed_time_unix_nano
    # One numbering across both sides: a details event holds inputs and outputs, and a message
    # is stored once per (record, position).
    sided = [("input", m) for m in found[0]] + [("output", m) for m in found[1]]
    for position, (side, message) in enumerate(sided):
        decoded.messages.append(
            LoggedMessage(trace_id, span_id, digest.hexdigest(), time, position, side, message)
        )


def _base64_ids(value: Any) -> Any:
    """OTLP-JSON with its hex `traceId`/`spanId` as the base64 protobuf's parser expects."""
    if isinstance(value, list):
        return [_base64_ids(item) for item in value]
    if not isinstance(value, dict):
        return value
    converted = {}
    for key, item in value.items():
        if key in ("traceId", "spanId") and isinstance(item, str):
            converted[key] = base64.b64encode(bytes.fromhex(item)).decode()
        else:
            converted[key] = _base64_ids(item)
    return converted


def encode_logs_success(decoded: DecodedLogs, media: str) -> bytes:
    """The `ExportLogsServiceResponse` of a 200 answer: empty, or the records rejected."""
    if not decoded.rejected:
        return b"{}" if media == JSON else b""
    reason = "log records with GenAI events must carry the trace and span id of their span"
    if media == JSON:
        partial = {"rejectedLogRecords": str(decoded.rejected), "errorMessage": reason}
        return msgspec.json.encode({"partialSuccess": partial})
    answer = ExportLogsServiceResponse(
        partial_success=ExportLogsPartialSuccess(
            rejected_log_records=decoded.rejected, error_message=reason
        )
    )
    return bytes(answer.SerializeToString())
