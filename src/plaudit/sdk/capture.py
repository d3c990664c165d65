"""`capture_spans()`: the spans that instrumented calls made inside a block, to hand to the browser.

    with plaudit.capture_spans() as captured:
        answer = client.chat.completions.create(...)   # instrumented by openai-v2, OpenInference…
    links = captured.links()    # {"trace_id", "span_id", …, "response_id"} of the model call

GenAI instrumentations make their spans deep inside the client library, where the app cannot
reach them. A span processor on the tracer provider sees every span start; the ones started in
the block's context (the same thread, or the same asyncio task and the tasks it starts) are
collected when they end. The processor is added to a provider once, at its first capture; it
costs one context-variable read per span outside capture blocks.
"""

import threading
import weakref
from collections.abc import Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final

from opentelemetry import trace

from plaudit.sdk._safety import PlauditSdkError, guarded, report
from plaudit.sdk.client import SpanLinks

RESPONSE_ID: Final = "gen_ai.response.id"
_CAPABILITY: Final = "plaudit.capability"
_STEP: Final = "plaudit.step"
_CONVERSATION: Final = "gen_ai.conversation.id"


@dataclass(frozen=True, slots=True)
class CapturedSpan:
    """One span an instrumented call made inside a `capture_spans()` block."""

    trace_id: str
    span_id: str
    name: str
    response_id: str | None
    """The provider's response id (`gen_ai.response.id`), when the instrumentation recorded it:
    feedback may name it instead of the span."""
    attributes: dict[str, Any] = field(default_factory=dict)

    def links(self) -> SpanLinks:
        """What feedback points at, as `span.links()` answers it, plus `response_id`."""
        attributes = self.attributes
        links: SpanLinks = {
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "capability": _text(attributes.get(_CAPABILITY)),
            "step": _text(attributes.get(_STEP)),
            "conversation_id": _text(attributes.get(_CONVERSATION)),
        }
        if self.response_id is not None:
            links["response_id"] = self.response_id
        return links


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


class CapturedSpans:
    """The spans captured by one block, in the order they ended; filled as they end."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[CapturedSpan] = []

    @property
    def spans(self) -> Sequence[CapturedSpan]:
        """Every span started in the block and ended so far, first ended first."""
        with self._lock:
            return tuple(self._spans)

    @property
    def last(self) -> CapturedSpan | None:
        """The span that ended last: for one instrumented call, the call's own span (its inner
        spans, HTTP requests for instance, end before it)."""
        with self._lock:
            return self._spans[-1] if self._spans else None

    def links(self) -> SpanLinks:
        """`last.links()`; ids None when nothing was captured."""
        last = self.last
        if last is None:
            return {"trace_id": None, "span_id": None}
        return last.links()

    def _add(self, span: CapturedSpan) -> None:
        with self._lock:
            self._spans.append(span)


_ACTIVE: ContextVar[tuple[CapturedSpans, ...]] = ContextVar("plaudit_capture", default=())


class _Collector:
    """The span processor: remembers which open spans a block started, collects them at end."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[tuple[int, int], tuple[CapturedSpans, ...]] = {}

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        active = _ACTIVE.get()
        if active:
            context = span.get_span_context()
            with self._lock:
                self._open[context.trace_id, context.span_id] = active

    def _on_ending(self, span: Any) -> None:
        """Called by the SDK just before `on_end`; nothing to do here."""

    def on_end(self, span: Any) -> None:
        if not self._open:  # no capture block open: the common case, without the lock
            return
        context = span.get_span_context()
        with self._lock:
            captures = self._open.pop((context.trace_id, context.span_id), None)
        if not captures:
            return
        attributes = dict(span.attributes or {})
        response_id = attributes.get(RESPONSE_ID)
        captured = CapturedSpan(
            format(context.trace_id, "032x"),
            format(context.span_id, "016x"),
            span.name,
            None if response_id is None else str(response_id),
            attributes,
        )
        for capture in captures:
            capture._add(captured)

    def shutdown(self) -> None:
        with self._lock:
            self._open.clear()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


_COLLECTOR: Final = _Collector()
_registered: "weakref.WeakSet[Any]" = weakref.WeakSet()
_registering = threading.Lock()


def _register(provider: Any) -> bool:
    """Add the collector to `provider` once; False when it is not an SDK tracer provider."""
    from opentelemetry.sdk.trace import TracerProvider

    if not isinstance(provider, TracerProvider):
        return False
    with _registering:
        if provider not in _registered:
            # Duck-typed: subclassing the SDK's SpanProcessor would load the OpenTelemetry SDK
            # on `import plaudit.sdk`, which needs only the API until `init`.
            processor: Any = _COLLECTOR
            provider.add_span_processor(processor)
            _registered.add(provider)
    return True


class capture_spans:  # noqa: N801 - a function to its callers, as `span` is
    """Collect the spans instrumented calls make inside a `with` (or `async with`) block.

    Args:
        tracer_provider: the OpenTelemetry SDK `TracerProvider` the instrumentation uses
            (default: the global one, which `plaudit.init()` sets up when there is none).
        on_error: called instead of raising when spans cannot be captured (no SDK provider);
            the block then runs and captures nothing.
    """

    def __init__(self, tracer_provider: Any = None, on_error: Any = None) -> None:
        self._provider = tracer_provider
        self._on_error = on_error
        self._captured = CapturedSpans()
        self._token: Token[tuple[CapturedSpans, ...]] | None = None

    def __enter__(self) -> CapturedSpans:
        with guarded(self._on_error):
            provider = self._provider or trace.get_tracer_provider()
            if _register(provider):
                self._token = _ACTIVE.set((*_ACTIVE.get(), self._captured))
            else:
                report(
                    PlauditSdkError(
                        "capture_spans needs an OpenTelemetry SDK TracerProvider: call "
                        "plaudit.init() first, or pass tracer_provider="
                    ),
                    self._on_error,
                )
        return self._captured

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _ACTIVE.reset(self._token)
            self._token = None

    async def __aenter__(self) -> CapturedSpans:
        return self.__enter__()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(kind, error, traceback)
