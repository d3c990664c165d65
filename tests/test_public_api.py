"""The SDK's public surface, pinned: the curated names, the same from `plaudit` and
`plaudit.sdk`, and typed signatures at the boundary (no `*args: Any, **kwargs: Any`)."""

import inspect
from typing import get_type_hints

import plaudit
import plaudit.sdk
from plaudit.sdk import AsyncClient, Client, Span, SpanLinks

PUBLIC = [
    "ApiError", "AsyncClient", "Client", "Datasets", "DeliveryFailed", "EvaluationInterrupted",
    "EvaluationResult", "Evaluations", "Feedback", "FeedbackDropped", "FeedbackRejected",
    "PlauditSdkError", "Queues", "Score", "Span", "SpanLinks", "datasets", "enrich_span",
    "enrich_trace", "evals", "evaluate", "evaluations", "feedback_token", "flush", "init", "queues",
    "send", "shutdown", "span",
]  # fmt: skip


def test_the_curated_names_are_pinned_and_sorted() -> None:
    assert plaudit.sdk.__all__ == PUBLIC
    assert plaudit.__all__ == sorted([*PUBLIC, "__version__"])


def test_plaudit_and_plaudit_sdk_answer_the_same_objects() -> None:
    for name in PUBLIC:
        assert getattr(plaudit, name) is getattr(plaudit.sdk, name), name


def test_no_public_callable_takes_untyped_args_or_kwargs() -> None:
    def callables() -> list[tuple[str, object]]:
        found: list[tuple[str, object]] = []
        for name in PUBLIC:
            thing = getattr(plaudit.sdk, name)
            found.append((name, thing))
            if inspect.isclass(thing):
                found += [
                    (f"{name}.{member}", getattr(thing, member))
                    for member in vars(thing)
                    if not member.startswith("_") or member == "__init__"
                ]
        return [(n, c) for n, c in found if inspect.isfunction(c)]

    loose = [
        name
        for name, function in callables()
        for parameter in inspect.signature(function).parameters.values()  # type: ignore[arg-type]
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        and parameter.annotation in (inspect.Parameter.empty, "Any")
    ]
    assert loose == []


def test_async_client_takes_exactly_the_client_arguments() -> None:
    assert inspect.signature(AsyncClient.__init__) == inspect.signature(Client.__init__)


def test_enrichment_takes_one_argument_order_everywhere() -> None:
    def shape(function: object, skip: set[str]) -> list[tuple[str, object]]:
        parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
        return [(p.name, p.kind) for p in parameters if p.name not in skip]

    for kind in ("span", "trace"):
        module_level = shape(getattr(plaudit.sdk, f"enrich_{kind}"), {"client"})
        assert shape(getattr(Client, f"enrich_{kind}"), {"self"}) == module_level
        assert shape(getattr(AsyncClient, f"enrich_{kind}"), {"self"}) == module_level
        assert module_level[0] == (f"{kind}_id", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        assert {k for _, k in module_level[1:]} == {inspect.Parameter.KEYWORD_ONLY}


def test_links_are_a_typed_dict() -> None:
    assert get_type_hints(Span.links)["return"] is SpanLinks
    assert set(get_type_hints(SpanLinks)) == {
        "trace_id", "span_id", "conversation_id", "capability", "step",
    }  # fmt: skip
