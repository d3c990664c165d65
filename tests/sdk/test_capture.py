"""`capture_spans()` with the real OpenTelemetry SDK: which spans a block captures, which not."""

import asyncio
import threading

from opentelemetry.sdk.trace import TracerProvider

import plaudit


def test_spans_started_in_the_block_are_captured_in_the_order_they_end() -> None:
    provider = TracerProvider()
    tracer = provider.get_tracer("library")
    with tracer.start_as_current_span("before"):
        pass
    with plaudit.capture_spans(tracer_provider=provider) as outer:
        with tracer.start_as_current_span("call") as call:
            with tracer.start_as_current_span("http request"):
                pass
            call.set_attribute("plaudit.capability", "support-agent")
        with (
            plaudit.capture_spans(tracer_provider=provider) as inner,
            tracer.start_as_current_span("second call"),
        ):
            pass
        elsewhere: list[str] = []
        other = threading.Thread(target=lambda: elsewhere.append(_span(tracer, "other thread")))
        other.start()
        other.join()
        late = tracer.start_span("ends after the block")
    late.end()
    with tracer.start_as_current_span("after"):
        pass

    assert [s.name for s in outer.spans] == [
        "http request", "call", "second call", "ends after the block",
    ]  # fmt: skip
    assert [s.name for s in inner.spans] == ["second call"]
    call_span = outer.spans[1]
    assert call_span.links()["capability"] == "support-agent"
    assert "response_id" not in call_span.links()
    assert outer.last is not None and outer.last.name == "ends after the block"


def _span(tracer: object, name: str) -> str:
    with tracer.start_as_current_span(name) as span:  # type: ignore[attr-defined]
        return str(span.name)


def test_async_blocks_capture_their_task_and_the_tasks_it_starts() -> None:
    provider = TracerProvider()
    tracer = provider.get_tracer("library")

    async def call(name: str) -> None:
        with tracer.start_as_current_span(name) as span:
            span.set_attribute("gen_ai.response.id", f"resp_{name}")
            await asyncio.sleep(0)

    async def app() -> tuple[plaudit.CapturedSpans, plaudit.CapturedSpans]:
        async with plaudit.capture_spans(tracer_provider=provider) as first:
            await asyncio.gather(call("a"), call("b"))
        async with plaudit.capture_spans(tracer_provider=provider) as second:
            unrelated = asyncio.ensure_future(asyncio.sleep(0))
            await call("c")
            await unrelated
        return first, second

    first, second = asyncio.run(app())
    assert sorted(s.name for s in first.spans) == ["a", "b"]
    assert [s.response_id for s in second.spans] == ["resp_c"]
    assert second.links()["response_id"] == "resp_c"
