"""The improvement loop from Python: `plaudit.datasets` and `plaudit.queues` (DESIGN §7).

    import plaudit.sdk as plaudit

    plaudit.init(url="http://127.0.0.1:8000", token="sk_…")
    plaudit.datasets.create("bad-answers")
    plaudit.datasets.add("bad-answers", from_feedback={"query": "value = -1"})
    rows = list(plaudit.datasets.examples("bad-answers"))

Unlike `send`, these calls are the app's own requests, so they raise `ApiError` (with the
server's problem document) instead of reporting to `on_error`. They use the URL and token given
to `Datasets(...)`/`Queues(...)`, else `plaudit.init`'s, else PLAUDIT_URL and PLAUDIT_TOKEN.
"""

import builtins
import os
import threading
from collections.abc import Iterator
from typing import Any

import httpx

from plaudit.sdk._safety import PlauditSdkError
from plaudit.sdk.client import default_client


class ApiError(PlauditSdkError):
    """The server refused a request; `problem` is its RFC 9457 document."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status}: {problem.get('detail', problem)}")
        self.status = status
        self.problem = problem


class _Api:
    """HTTP calls to one server with one token, resolved when first needed."""

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 60.0):
        self._url, self._token, self._timeout = url, token, timeout
        # One connection pool per server and token, kept between calls: a new client per call
        # costs a TLS context and a TCP connection each time (evaluations make many calls).
        self._http: httpx.Client | None = None
        self._http_for: tuple[str, str | None] | None = None
        self._lock = threading.Lock()

    def target(self) -> tuple[str, str | None]:
        """The server's URL and the token these calls use."""
        default = default_client()
        url = self._url or default.url or os.environ.get("PLAUDIT_URL")
        token = self._token or default._token or os.environ.get("PLAUDIT_TOKEN")
        if not url:
            raise PlauditSdkError(
                "no server: pass url=, call plaudit.init(url=…) or set PLAUDIT_URL"
            )
        return url.rstrip("/"), token

    def _client(self) -> httpx.Client:
        target = self.target()
        with self._lock:
            if self._http is None or self._http_for != target:
                if self._http is not None:
                    self._http.close()
                url, token = target
                headers = {"authorization": f"Bearer {token}"} if token else {}
                self._http = httpx.Client(base_url=url, headers=headers, timeout=self._timeout)
                self._http_for = target
            return self._http

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._client().request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text}
            raise ApiError(response.status_code, problem)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        return response.json() if response.content else None

    def pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        cursor = None
        while True:
            query = {k: v for k, v in {**params, "cursor": cursor}.items() if v is not None}
            page = self.json("GET", path, params=query)
            yield from page["items"]
            if (cursor := page["next_cursor"]) is None:
                return


class Datasets(_Api):
    """Datasets of examples: create, add, read any version, export, import, patch, remove."""

    def create(self, name: str, description: str | None = None) -> dict[str, Any]:
        """A new dataset at version 0."""
        body = {"name": name, **({"description": description} if description else {})}
        created: dict[str, Any] = self.json("POST", "/v1/datasets", json=body)
        return created

    def get(self, name: str) -> dict[str, Any]:
        """The dataset with its newest version and count."""
        found: dict[str, Any] = self.json("GET", f"/v1/datasets/{name}")
        return found

    def list(self) -> list[dict[str, Any]]:
        """Every dataset of the token's project."""
        return [*self.pages("/v1/datasets", {"limit": 1000})]

    def delete(self, name: str) -> None:
        """Remove a dataset with every version."""
        self.call("DELETE", f"/v1/datasets/{name}")

    def add(
        self,
        name: str,
        examples: builtins.list[dict[str, Any]] | None = None,
        *,
        from_feedback: dict[str, Any] | None = None,
        from_trace: dict[str, Any] | None = None,
        mapping: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Add examples (a list, `from_feedback={"query": …}` or `from_trace={"trace_id": …}`);
        answers `{"version", "results"}`."""
        body: dict[str, Any] = {}
        for key, value in (("examples", examples), ("from_feedback", from_feedback),
                           ("from_trace", from_trace), ("mapping", mapping)):  # fmt: skip
            if value is not None:
                body[key] = value
        added: dict[str, Any] = self.json("POST", f"/v1/datasets/{name}/examples", json=body)
        return added

    def examples(
        self, name: str, version: int | None = None, annotation_status: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every example of a version (the newest by default), page by page."""
        params = {"version": version, "annotation_status": annotation_status, "limit": 1000}
        return self.pages(f"/v1/datasets/{name}/examples", params)

    def versions(self, name: str) -> builtins.list[dict[str, Any]]:
        """Every version, newest first, with what it changed."""
        answer = self.json("GET", f"/v1/datasets/{name}/versions")
        found: builtins.list[dict[str, Any]] = answer["items"]
        return found

    def patch(self, name: str, example_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Deep-merge `changes` into one example."""
        path = f"/v1/datasets/{name}/examples/{example_id}"
        patched: dict[str, Any] = self.json("PATCH", path, json=changes)
        return patched

    def remove(self, name: str, example_id: str) -> int:
        """Remove one example from the next version; answers that version."""
        version: int = self.json("DELETE", f"/v1/datasets/{name}/examples/{example_id}")["version"]
        return version

    def export(self, name: str, version: int | None = None, csv: bool = False) -> bytes:
        """A version as NDJSON (or CSV) bytes."""
        accept = "text/csv" if csv else "application/x-ndjson"
        params = {"version": version} if version is not None else {}
        path = f"/v1/datasets/{name}/examples"
        return self.call("GET", path, params=params, headers={"accept": accept}).content

    def import_ndjson(self, name: str, ndjson: bytes) -> dict[str, Any]:
        """Add every example of an NDJSON export as one version."""
        headers = {"content-type": "application/x-ndjson"}
        path = f"/v1/datasets/{name}/examples"
        imported: dict[str, Any] = self.json("POST", path, content=ndjson, headers=headers)
        return imported


class Queues(_Api):
    """Annotation queues: create, add items, take the next one, complete it."""

    def create(
        self,
        name: str,
        feedback_names: list[str],
        *,
        fill: dict[str, Any] | None = None,
        instructions: str | None = None,
    ) -> dict[str, Any]:
        """A queue whose reviewers answer `feedback_names`; with `fill={"query": …}` matching
        spans are queued now and as feedback arrives."""
        body: dict[str, Any] = {"name": name, "feedback_names": feedback_names}
        if fill is not None:
            body["fill"] = fill
        if instructions is not None:
            body["instructions"] = instructions
        created: dict[str, Any] = self.json("POST", "/v1/annotation-queues", json=body)
        return created

    def get(self, name: str) -> dict[str, Any]:
        """The queue with `counts: {pending, done}`."""
        found: dict[str, Any] = self.json("GET", f"/v1/annotation-queues/{name}")
        return found

    def add(self, name: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add `{"trace_id","span_id"?}` or `{"dataset","example_id"}` items by hand."""
        path = f"/v1/annotation-queues/{name}/items"
        results: list[dict[str, Any]] = self.json("POST", path, json={"items": items})["results"]
        return results

    def items(self, name: str, status: str | None = None) -> Iterator[dict[str, Any]]:
        """The queue's items (`pending` or `done` only, if asked)."""
        params = {"status": status, "limit": 1000}
        return self.pages(f"/v1/annotation-queues/{name}/items", params)

    def next(self, name: str, skip: list[str] | None = None) -> dict[str, Any] | None:
        """Hold the next pending item for this token's reviewer (None when none is left)."""
        path = f"/v1/annotation-queues/{name}/items/next"
        item: dict[str, Any] | None = self.json("POST", path, json={"skip": skip or []})["item"]
        return item

    def complete(self, name: str, item_id: str, feedback: list[dict[str, Any]]) -> dict[str, Any]:
        """Answer an item (`[{"name","value","comment"?}]`); completing again revises."""
        path = f"/v1/annotation-queues/{name}/items/{item_id}/complete"
        done: dict[str, Any] = self.json("POST", path, json={"feedback": feedback})
        return done


datasets = Datasets()
queues = Queues()
