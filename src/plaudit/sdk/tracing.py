"""Tracing: `init()` exports OpenTelemetry spans to Plaudit; `span()` marks a capability's steps.

`init` adds a batch span processor (OTLP/HTTP protobuf to `<url>/v1/traces`) to the app's
OpenTelemetry SDK tracer provider if it has one, or installs a new provider. The processor's
queue is sized for bursts (32,768 spans): 1,000 traces of 10 spans leave nothing behind.
"""

import atexit
import functools
import inspect
import json
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, NamedTuple, ParamSpec, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from plaudit.sdk._safety import DeliveryFailed, ErrorHandler, PlauditSdkError, guarded, report
from plaudit.sdk.client import Client, SpanLinks, default_client, set_default_client

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk.trace.export import SpanExporter

CAPABILITY: Final = "plaudit.capability"
STEP: Final = "plaudit.step"
CONVERSATION: Final = "gen_ai.conversation.id"
END_USER: Final = "enduser.id"
SPAN_QUEUE_SIZE: Final = 32_768
SPAN_BATCH_SIZE: Final = 2_048
EXIT_TIMEOUT: Final = 5.0

P = ParamSpec("P")
R = TypeVar("R")


class _Scope(NamedTuple):
    """What nested spans inherit from the enclosing `span(...)`."""

    capability: str | None
    conversation_id: str | None
    user_id: str | None


_SCOPE: ContextVar[_Scope | None] = ContextVar("plaudit_scope", default=None)


class _Setup:
    """What `init` installed, so `flush` and `shutdown` can reach it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.processor: SpanProcessor | None = None
        self.exporter: SpanExporter | None = None  # the processor's, to stop its retries
        self.tracer: trace.Tracer | None = None
        self.on_error: ErrorHandler | None = None


_setup = _Setup()


def _tracer() -> trace.Tracer:
    return _setup.tracer or trace.get_tracer("plaudit.sdk")


def init(
    url: str | None = None,
    token: str | None = None,
    project: str | None = None,
    on_error: ErrorHandler | None = None,
    signing_key: str | None = None,
    *,
    service_name: str | None = None,
    tracer_provider: Any = None,
    traces: bool = True,
    **client_options: Any,
) -> Client:
    """Configure Plaudit: trace export and the default feedback client. Never raises.

    Args:
        url: the server (default `PLAUDIT_URL`).
        token: a token with `traces:write` and `feedback:write` (default `PLAUDIT_TOKEN`).
        project: the project (default `PLAUDIT_PROJECT`, else the token's).
        on_error: called with every error the SDK meets instead of raising it.
        signing_key: `psk_…` key to mint feedback tokens offline (default `PLAUDIT_SIGNING_KEY`).
        service_name: `service.name` of a tracer provider made here.
        tracer_provider: an OpenTelemetry SDK `TracerProvider` to add the exporter to (default:
            the global one if it is an SDK provider, else a new one made global).
        traces: False to set up feedback only.
        client_options: passed to `Client` (`max_queue`, `flush_interval`, …).

    Returns:
        The default `Client`, which `send`, `enrich_span` and `feedback_token` use.
    """
    client = Client(
        url, token, project, on_error=on_error, signing_key=signing_key, **client_options
    )
    previous = set_default_client(client)
    with guarded(on_error):
        if previous is not None:
            previous.shutdown(timeout=1.0)
    with guarded(on_error):
        if traces and client.url is not None:
            _setup_tracing(client, service_name, tracer_provider)
        elif traces:
            report(PlauditSdkError("no Plaudit URL: pass url= or set PLAUDIT_URL"), on_error)
    _setup.on_error = on_error
    return client


def _setup_tracing(client: Client, service_name: str | None, provider: Any) -> None:
    # Imported here: `import plaudit.sdk` stays cheap, and needs only the OpenTelemetry API.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if provider is None:
        provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        resource = Resource.create({"service.name": service_name or "plaudit-app"})
        # Our own exit hook shuts it down in bounded time; OpenTelemetry's may wait 30 s.
        provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        trace.set_tracer_provider(provider)
        atexit.register(_shutdown_spans, EXIT_TIMEOUT)
    headers = {"authorization": f"Bearer {client._token}"} if client._token else None
    exporter = OTLPSpanExporter(endpoint=f"{client.url}/v1/traces", headers=headers, timeout=10)
    reporting = _reporting(exporter, client)
    processor = BatchSpanProcessor(
        reporting,
        max_queue_size=SPAN_QUEUE_SIZE,
        max_export_batch_size=SPAN_BATCH_SIZE,
        schedule_delay_millis=500,
    )
    provider.add_span_processor(processor)
    with _setup.lock:
        old, _setup.processor = _setup.processor, processor
        old_exporter, _setup.exporter = _setup.exporter, reporting
        _setup.tracer = provider.get_tracer("plaudit.sdk")
    if old is not None:  # a second init replaces the first's exporter instead of doubling it
        _stop(old, old_exporter, 1.0)


def _reporting(exporter: "SpanExporter", client: Client) -> "SpanExporter":
    """`exporter`, telling `on_error` about batches of spans it could not deliver."""
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class Reporting(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            result = exporter.export(spans)
            if result is not SpanExportResult.SUCCESS:
                failure = DeliveryFailed(f"{len(spans)} span(s) not exported to {client.url}")
                report(failure, client.on_error)
            return result

        def shutdown(self) -> None:
            exporter.shutdown()

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            return exporter.force_flush(timeout_millis)

    return Reporting()


def _bounded(work: Callable[[], object], timeout: float) -> bool:
    """Run `work` for at most `timeout` seconds; it finishes in the background if it must.

    OpenTelemetry's processor shutdown can wait 30 s for an unreachable server; the app's
    shutdown must not.
    """
    thread = threading.Thread(target=work, name="plaudit-span-shutdown", daemon=True)
    thread.start()
    thread.join(timeout)
    return not thread.is_alive()


def _shutdown_spans(timeout: float) -> bool:
    with _setup.lock:
        processor, _setup.processor, _setup.tracer = _setup.processor, None, None
        exporter, _setup.exporter = _setup.exporter, None
    return processor is None or _stop(processor, exporter, timeout)


def _stop(processor: "SpanProcessor", exporter: "SpanExporter | None", timeout: float) -> bool:
    """Shut `processor` down within `timeout`; if it is still exporting by then (a server that
    does not answer), stop its exporter too, which ends the retries at once instead of leaving a
    thread retrying for the exporter's own timeout after the app asked to stop."""
    if _bounded(processor.shutdown, timeout):
        return True
    if exporter is not None:
        _bounded(exporter.shutdown, 1.0)
    return False


def flush(timeout: float | None = None) -> bool:
    """Send every span and feedback item made so far; False if `timeout` ran out first."""
    done = True
    with guarded(_setup.on_error):
        processor = _setup.processor
        if processor is not None:
            wait = timeout if timeout is not None else 30.0
            # force_flush exports on the calling thread and may overrun its timeout; bound it.
            results: list[bool] = []
            _bounded(lambda: results.append(processor.force_flush(int(wait * 1000))), wait)
            done = results == [True]
        done = default_client().flush(timeout) and done
        return done
    return False


def shutdown(timeout: float | None = None) -> bool:
    """Flush and stop Plaudit's span exporter and default client (also done at exit).

    Waits at most `timeout` seconds (default 5) for each, then stops their retries; answers
    whether everything was sent.
    """
    with guarded(_setup.on_error):
        wait = EXIT_TIMEOUT if timeout is None else timeout
        spans_done = _shutdown_spans(wait)
        client = set_default_client(None)
        feedback_done = client.shutdown(wait) if client is not None else True
        return spans_done and feedback_done
    return False


def _attribute(value: Any) -> Any:
    """OpenTelemetry takes primitives and lists of them; other values travel as JSON text."""
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple) and all(
        isinstance(v, str | bool | int | float) for v in value
    ):
        return list(value)
    return json.dumps(value, default=str)


class Span:
    """A Plaudit span: a context manager (`with`/`async with`) and a decorator.

    As a decorator every call of the function gets its own span. Inside, `links()` answers what
    the browser needs to send feedback about this span.
    """

    __slots__ = ("_attributes", "_otel", "_otel_token", "_scope", "_scope_token", "name", "step")

    def __init__(
        self,
        name: str,
        capability: str | None = None,
        step: str | None = None,
        conversation_id: str | None = None,
        user_id: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.step = step
        self._scope = _Scope(capability, conversation_id, user_id)
        self._attributes = dict(attributes or {})
        self._otel: trace.Span = trace.INVALID_SPAN
        self._otel_token: Token[Any] | None = None
        self._scope_token: Token[_Scope | None] | None = None

    def _copy(self) -> "Span":
        capability, conversation_id, user_id = self._scope
        return Span(self.name, capability, self.step, conversation_id, user_id, self._attributes)

    # ---- context manager -----------------------------------------------------------------

    def __enter__(self) -> "Span":
        with guarded(_setup.on_error):
            outer = _SCOPE.get()
            if outer is not None:  # nested spans inherit capability, conversation and user
                self._scope = _Scope(
                    *(mine or theirs for mine, theirs in zip(self._scope, outer, strict=True))
                )
            attributes = {k: _attribute(v) for k, v in self._attributes.items() if v is not None}
            for key, value in (
                (CAPABILITY, self._scope.capability),
                (STEP, self.step),
                (CONVERSATION, self._scope.conversation_id),
                (END_USER, self._scope.user_id),
            ):
                if value is not None:
                    attributes[key] = value
            self._otel = _tracer().start_span(self.name, attributes=attributes)
            self._otel_token = otel_context.attach(trace.set_span_in_context(self._otel))
            self._scope_token = _SCOPE.set(self._scope)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Never swallows the app's exception: returning None lets it propagate unchanged.
        with guarded(_setup.on_error):
            if exc is not None:
                self._otel.record_exception(exc)
                self._otel.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            self._otel.end()
            if self._scope_token is not None:
                _SCOPE.reset(self._scope_token)
            if self._otel_token is not None:
                otel_context.detach(self._otel_token)

    async def __aenter__(self) -> "Span":
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)

    # ---- decorator -----------------------------------------------------------------------

    @overload
    def __call__(self, function: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]: ...

    @overload
    def __call__(self, function: Callable[P, R]) -> Callable[P, R]: ...

    def __call__(self, function: Callable[P, Any]) -> Callable[P, Any]:
        """Wrap `function` (sync or async) so each call runs in a new span."""
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                with self._copy():
                    return await function(*args, **kwargs)

            return run_async

        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> Any:
            with self._copy():
                return function(*args, **kwargs)

        return run

    # ---- what the app reads ------------------------------------------------------------------

    @property
    def otel_span(self) -> trace.Span:
        """The OpenTelemetry span, to set attributes or events on it directly."""
        return self._otel

    def set_attribute(self, key: str, value: Any) -> None:
        """Set an attribute on the span (non-primitive values are stored as JSON text)."""
        with guarded(_setup.on_error):
            self._otel.set_attribute(key, _attribute(value))

    def links(self) -> SpanLinks:
        """`{trace_id, span_id, capability, step, conversation_id}` for the browser.

        The ids are None when tracing is not set up (call `init` first).
        """
        context = self._otel.get_span_context()
        valid = context.is_valid
        return {
            "trace_id": format(context.trace_id, "032x") if valid else None,
            "span_id": format(context.span_id, "016x") if valid else None,
            "capability": self._scope.capability,
            "step": self.step,
            "conversation_id": self._scope.conversation_id,
        }


def span(
    name: str,
    capability: str | None = None,
    step: str | None = None,
    conversation_id: str | None = None,
    user_id: str | None = None,
    **attributes: Any,
) -> Span:
    """A span for one step of an AI capability; use with `with`, `async with` or as `@decorator`.

    Sets `plaudit.capability`, `plaudit.step`, `gen_ai.conversation.id` and `enduser.id`
    (capability, conversation and user are inherited by nested spans), plus `attributes`.
    """
    return Span(name, capability, step, conversation_id, user_id, attributes)


def _current_ids() -> tuple[str | None, str | None]:
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None, None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def enrich_span(
    span_id: str | None = None,
    *,
    feedback: Mapping[str, Any] | None = None,
    attributes: Mapping[str, Any] | None = None,
    tags: list[str] | None = None,
    user_id: str | None = None,
    id: str | None = None,
    client: Client | None = None,
) -> str | None:
    """Merge feedback, attributes and tags into a span (the current one unless `span_id`).

    Sent in the background (`PATCH /v1/spans/{span_id}`); merged server-side, never overwritten.
    Answers the enrichment's id, or None if there was no span or it could not be queued.
    """
    span_id = span_id or _current_ids()[1]
    target = client or default_client()
    if span_id is None:
        report(PlauditSdkError("enrich_span: no current span and no span_id"), target.on_error)
        return None
    return target.enrich_span(
        span_id, feedback=feedback, attributes=attributes, tags=tags, user_id=user_id, id=id
    )


def enrich_trace(
    trace_id: str | None = None,
    *,
    feedback: Mapping[str, Any] | None = None,
    attributes: Mapping[str, Any] | None = None,
    tags: list[str] | None = None,
    user_id: str | None = None,
    id: str | None = None,
    client: Client | None = None,
) -> str | None:
    """Merge feedback, attributes and tags into a trace (the current one unless `trace_id`)."""
    trace_id = trace_id or _current_ids()[0]
    target = client or default_client()
    if trace_id is None:
        report(PlauditSdkError("enrich_trace: no current trace and no trace_id"), target.on_error)
        return None
    return target.enrich_trace(
        trace_id, feedback=feedback, attributes=attributes, tags=tags, user_id=user_id, id=id
    )
