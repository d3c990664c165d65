"""The OpenAPI document, completed with the bodies our raw-body handlers read and write.

Ingest handlers read raw bytes (to validate item by item and to accept sendBeacon bodies), and
several handlers answer pre-encoded JSON, so the framework can see neither their request nor their
answer types; we add them here from msgspec types. A schemathesis test checks every answer
against this document.
`python -m plaudit.server.openapi` writes docs/openapi.json and docs/api.md; a test keeps both
current.
"""

import sys
from pathlib import Path
from typing import Any, Literal

import msgspec

from plaudit.core.configs import FeedbackConfig
from plaudit.core.feedback import FeedbackIn
from plaudit.loop.evaluations import ResultsIn, RunIn
from plaudit.server.api.admin import ProjectIn, TokenIn
from plaudit.server.api.traces import EnrichmentIn


class FeedbackBatch(msgspec.Struct):
    """Up to 1,000 events (5 MiB); `token` only for sendBeacon bodies."""

    feedback: list[FeedbackIn]
    token: str | None = None


class ItemResult(msgspec.Struct):
    """What became of one event of a `POST /v1/feedback`."""

    id: str | None
    status: Literal["created", "duplicate", "revised", "rejected"]
    error: dict[str, Any] | None = None


class FeedbackResults(msgspec.Struct):
    """The answer of `POST /v1/feedback`, one result per event in order."""

    results: list[ItemResult]


class ProjectOut(msgspec.Struct):
    """A project and its PII mode."""

    name: str
    created_at: str
    pii: Literal["redact", "flag", "off"]


class TokenOut(msgspec.Struct):
    """A token without its secret."""

    id: str
    project: str
    name: str
    scopes: list[str]
    origins: list[str] | None
    browser_safe: bool
    created_at: str
    revoked_at: str | None


class TraceHit(msgspec.Struct):
    """A trace that matches a search, with when it last matched."""

    trace_id: str
    matched_at: str


def _page_of(item: type) -> Any:
    """`{"items": [item], "next_cursor"}`, the shape of every list."""
    fields = [("items", list[item]), ("next_cursor", str | None)]  # type: ignore[valid-type]
    return msgspec.defstruct(f"PageOf{item.__name__}", fields)


class DatasetOut(msgspec.Struct):
    """A dataset: its newest version and number of examples."""

    name: str
    description: str | None
    version: int
    count: int
    created_at: str


class QueueOut(msgspec.Struct):
    """An annotation queue with its progress (further fields as `GET` one queue shows)."""

    name: str
    feedback_names: list[str]
    counts: dict[str, int]


class Confusion(msgspec.Struct):
    """Spans by verdict, the evaluator's against the users' (pass is positive)."""

    tp: int
    fp: int
    fn: int
    tn: int


class AgreementItem(msgspec.Struct):
    """Agreement over one capability's spans (`capability` null: all spans, or none known)."""

    capability: str | None
    n: int
    agreement: float | None
    kappa: float | None
    pearson: float | None
    confusion: Confusion


class AgreementOut(msgspec.Struct):
    """The answer of `GET /v1/agreement`."""

    items: list[AgreementItem]


class RunOut(msgspec.Struct):
    """An evaluation run with its counts and each score's mean and pass rate."""

    id: str
    name: str | None
    dataset: str
    dataset_version: int
    only: Literal["guardrails", "filled"] | None
    status: Literal["running", "finished"]
    counts: dict[str, int]
    scores: dict[str, dict[str, float]]
    created_at: str
    finished_at: str | None


ANSWERS: dict[tuple[str, str], Any] = {
    ("/v1/feedback", "post"): FeedbackResults,
    ("/v1/projects", "get"): _page_of(ProjectOut),
    ("/v1/tokens", "get"): _page_of(TokenOut),
    ("/v1/traces", "get"): _page_of(TraceHit),
    ("/v1/feedback-configs", "get"): _page_of(FeedbackConfig),
    ("/v1/feedback-configs/{name}", "put"): FeedbackConfig,
    ("/v1/datasets", "get"): _page_of(DatasetOut),
    ("/v1/annotation-queues", "get"): _page_of(QueueOut),
    ("/v1/agreement", "get"): AgreementOut,
    ("/v1/evaluations", "get"): _page_of(RunOut),
    ("/v1/evaluations", "post"): RunOut,
    ("/v1/evaluations/{run_id}", "get"): RunOut,
}

BODIES: dict[tuple[str, str], Any] = {
    ("/v1/feedback", "post"): FeedbackIn,
    ("/v1/traces/{trace_id}", "patch"): EnrichmentIn,
    ("/v1/spans/{span_id}", "patch"): EnrichmentIn,
    ("/v1/tokens", "post"): TokenIn,
    ("/v1/projects", "post"): ProjectIn,
    ("/v1/feedback-configs/{name}", "put"): FeedbackConfig,
    ("/v1/datasets", "get"): _page_of(DatasetOut),
    ("/v1/annotation-queues", "get"): _page_of(QueueOut),
    ("/v1/evaluations", "post"): RunIn,
    ("/v1/evaluations/{run_id}/results", "post"): ResultsIn,
}


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """Add the JSON request bodies (and their component schemas) to `document`."""
    types = [*BODIES.values(), FeedbackBatch]
    found, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    document.setdefault("components", {}).setdefault("schemas", {}).update(components)
    schemas = [{"oneOf": [found[0], found[-1]]}, *found[1:]]
    for (path, method), schema in zip(BODIES, schemas, strict=False):
        operation = document.get("paths", {}).get(path, {}).get(method)
        if operation is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema}},
            }
    feedback_post = document.get("paths", {}).get("/v1/feedback", {}).get("post")
    if feedback_post is not None:
        content = feedback_post["requestBody"]["content"]
        content["text/plain"] = {"schema": content["application/json"]["schema"]}
    _add_answers(document)
    return document


def _add_answers(document: dict[str, Any]) -> None:
    found, components = msgspec.json.schema_components(
        ANSWERS.values(), ref_template="#/components/schemas/{name}"
    )
    document["components"]["schemas"].update(components)
    for (path, method), schema in zip(ANSWERS, found, strict=True):
        operation = document.get("paths", {}).get(path, {}).get(method)
        if operation is None:
            continue
        for status, answer in operation.get("responses", {}).items():
            if status.startswith("2") and "content" in answer:
                answer["content"] = {"application/json": {"schema": schema}}


def markdown(document: dict[str, Any]) -> str:
    """A readable API reference generated from the document."""
    lines = [
        "# API reference",
        "",
        "Generated from the OpenAPI document (`docs/openapi.json`, served at `/openapi.json`) by",
        "`python -m plaudit.server.openapi`; do not edit by hand. Conventions, errors and limits",
        "are described in [conventions](api-conventions.md).",
        "",
    ]
    for path, operations in sorted(document["paths"].items()):
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            lines += [f"## `{method.upper()} {path}`", "", operation.get("summary", ""), ""]
            if description := operation.get("description"):
                lines += [description.strip(), ""]
            params = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
            if params:
                lines.append(
                    "Query parameters: " + ", ".join(f"`{p['name']}`" for p in params) + "."
                )
                lines.append("")
            if body := operation.get("requestBody"):
                media = ", ".join(f"`{m}`" for m in body["content"])
                lines += [f"Request body: {media}.", ""]
    return "\n".join(lines).rstrip() + "\n"


def write(directory: Path) -> None:
    """Write openapi.json and api.md into `directory`."""
    from plaudit.server.app import create_app
    from plaudit.settings import Settings

    document = complete(create_app(Settings()).openapi_schema.to_schema())
    directory.mkdir(parents=True, exist_ok=True)
    encoded = msgspec.json.format(msgspec.json.encode(document), indent=2)
    (directory / "openapi.json").write_bytes(encoded + b"\n")
    (directory / "api.md").write_text(markdown(document))


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
