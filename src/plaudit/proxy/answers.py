"""Reading an upstream's answer as it passes to the caller, for the span.

The caller gets every byte as it comes; these readers look at a copy. A streamed answer
(`text/event-stream`) is read event by event and only what the span needs is kept (ids, model,
finish reasons, usage, and the generated text when content is captured), so a long stream is
never held whole. A whole answer is kept up to `MAX_RECORDED_BYTES` and read at the end.
A gzip or deflate answer is read through a bounded decompressor; other encodings are passed on
but not read.
"""

from __future__ import annotations

import zlib
from typing import Any, Final, Protocol

from plaudit.core.genai import OUTPUT_MESSAGES
from plaudit.proxy.genai import answer_attributes, json_object, json_text, usage_attributes

MAX_RECORDED_BYTES: Final = 8 * 1024 * 1024
_MAX_EVENT_BYTES: Final = 1024 * 1024
_DONE: Final = b"[DONE]"
_FINAL_RESPONSE_EVENTS: Final = frozenset(
    {"response.completed", "response.incomplete", "response.failed"}
)


class AnswerReader(Protocol):
    """Sees each chunk of an answer; says at the end what the span should record."""

    def feed(self, chunk: bytes) -> None: ...

    def attributes(self) -> dict[str, Any]: ...


class _Inflater:
    """Decompresses what it is fed, never more than `MAX_RECORDED_BYTES` in all."""

    def __init__(self, encoding: str) -> None:
        # 47: gzip or zlib header, detected; -15: raw deflate, which some servers send
        self._inflate = zlib.decompressobj(47 if encoding == "gzip" else 15)
        self._left = MAX_RECORDED_BYTES
        self.failed = False

    def __call__(self, chunk: bytes) -> bytes:
        if self.failed or self._left <= 0:
            return b""
        try:
            out = self._inflate.decompress(chunk, self._left)
        except zlib.error:
            self.failed = True
            return b""
        self._left -= len(out)
        return out


def reader_for(content_type: str, content_encoding: str, capture: bool) -> AnswerReader:
    """The reader for an answer with these headers."""
    encoding = content_encoding.strip().lower()
    if encoding not in ("", "identity", "gzip", "deflate"):
        return _Unreadable()
    inflate = _Inflater(encoding) if encoding in ("gzip", "deflate") else None
    if content_type.split(";", 1)[0].strip().lower() == "text/event-stream":
        return EventStreamReader(capture, inflate)
    return WholeAnswerReader(capture, inflate)


class _Unreadable:
    def feed(self, chunk: bytes) -> None:
        return None

    def attributes(self) -> dict[str, Any]:
        return {}


class WholeAnswerReader:
    """Keeps a JSON answer (up to the limit) and reads it once it is complete."""

    def __init__(self, capture: bool, inflate: _Inflater | None = None) -> None:
        self._capture = capture
        self._inflate = inflate
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> None:
        if self._inflate is not None:
            chunk = self._inflate(chunk)
        self._size += len(chunk)
        if self._size <= MAX_RECORDED_BYTES:
            self._parts.append(chunk)

    @property
    def kept_bytes(self) -> int:
        """How much of the answer will be read at the end."""
        return self._size if self._size <= MAX_RECORDED_BYTES else 0

    def attributes(self) -> dict[str, Any]:
        if self._size > MAX_RECORDED_BYTES:
            return {}
        return answer_attributes(json_object(b"".join(self._parts)), self._capture)


class EventStreamReader:
    """Reads server-sent events as they pass, keeping what the span needs."""

    def __init__(self, capture: bool, inflate: _Inflater | None = None) -> None:
        self._capture = capture
        self._inflate = inflate
        self._pending = b""
        self._data: list[bytes] = []
        self._found: dict[str, Any] = {}
        self._texts: dict[int, list[str]] = {}
        self._reasons: dict[int, str] = {}
        self._final: dict[str, Any] | None = None
        self.events = 0

    def feed(self, chunk: bytes) -> None:
        if self._inflate is not None:
            chunk = self._inflate(chunk)
        lines = (self._pending + chunk).split(b"\n")
        self._pending = lines.pop()
        if len(self._pending) > _MAX_EVENT_BYTES:
            self._pending = b""  # a line this long is no event we read; skip it
        for line in lines:
            self._line(line.rstrip(b"\r"))

    def _line(self, line: bytes) -> None:
        if not line:
            if self._data:
                self._event(b"\n".join(self._data))
                self._data = []
        elif line.startswith(b"data:"):
            value = line[5:]
            self._data.append(value[1:] if value.startswith(b" ") else value)

    def _event(self, data: bytes) -> None:
        self.events += 1
        if data == _DONE:
            return
        event = json_object(data)
        if event is None:
            return
        kind = event.get("type")
        if isinstance(kind, str) and kind.startswith("response."):
            if kind in _FINAL_RESPONSE_EVENTS and isinstance(event.get("response"), dict):
                self._final = event["response"]
            return
        self._chunk(event)

    def _chunk(self, event: dict[str, Any]) -> None:
        for key, attribute in (("id", "gen_ai.response.id"), ("model", "gen_ai.response.model")):
            if attribute not in self._found and isinstance(event.get(key), str):
                self._found[attribute] = event[key]
        self._found.update(usage_attributes(event.get("usage")))
        for choice in event.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", 0)
            index = index if isinstance(index, int) else 0
            if choice.get("finish_reason"):
                self._reasons[index] = str(choice["finish_reason"])
            if self._capture:
                self._text(index, choice)

    def _text(self, index: int, choice: dict[str, Any]) -> None:
        delta = choice.get("delta")
        text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
        if isinstance(text, str) and text:
            self._texts.setdefault(index, []).append(text)

    def attributes(self) -> dict[str, Any]:
        if self._final is not None:
            return answer_attributes(self._final, self._capture)
        found = dict(self._found)
        if self._reasons:
            found["gen_ai.response.finish_reasons"] = [
                self._reasons[i] for i in sorted(self._reasons)
            ]
        if self._capture and (self._texts or self._reasons):
            found[OUTPUT_MESSAGES] = json_text(
                [self._output(i) for i in sorted(set(self._texts) | set(self._reasons))]
            )
        return found

    def _output(self, index: int) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "parts": [{"type": "text", "content": "".join(self._texts.get(index, []))}],
        }
        if index in self._reasons:
            message["finish_reason"] = self._reasons[index]
        return message
