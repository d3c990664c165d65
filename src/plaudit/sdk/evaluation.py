"""`plaudit.evaluate`: run a task and evaluators over a dataset, stored as an evaluation run.

    result = plaudit.evaluate(dataset="bad-answers", task=answer, evaluators=[exact_match])
    print(result.id, result.scores)

Each example runs in a worker thread (at most `max_concurrency` at once): the task makes a new
output inside a span of the run (exported to Plaudit with the app's other spans), then every
evaluator scores it. Results go to the server in batches; the server stores each score as
evaluator feedback on the row's span. An exception in the task or an evaluator is that row's
error, never the run's end.

Ctrl-C (SIGINT, in the main thread) stops taking new rows, finishes and stores the rows under
way, then raises `EvaluationInterrupted` naming the run; `evaluate(..., resume=run_id)` runs what
is left, so no row is repeated or lost. A second Ctrl-C stops at once.
"""

import asyncio
import inspect
import itertools
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Final, Literal

from opentelemetry.trace import Status, StatusCode

from plaudit.sdk.evals import Score
from plaudit.sdk.loop import ApiError, _Api
from plaudit.sdk.tracing import _setup, flush, init, span

Task = Callable[[Any], Any]
Evaluator = Callable[[Any, Any, Any, Any], Any]
Progress = Callable[[int, int], None]
BATCH: Final = 500
BATCH_SECONDS: Final = 1.0
POSTERS: Final = 2
EVALUATION: Final = "plaudit.evaluation"
EXAMPLE: Final = "plaudit.example_id"
_END: Final = "\0end"  # a worker's last message (no row has this key)


class EvaluationInterrupted(KeyboardInterrupt):
    """The run was stopped by Ctrl-C after storing every finished row; resume it by `run_id`."""

    def __init__(self, run_id: str, stored: int) -> None:
        super().__init__(f"evaluation {run_id} interrupted after {stored} row(s)")
        self.run_id = run_id
        self.stored = stored


@dataclass
class EvaluationResult:
    """A finished (or resumed) run: its id, counts, scores and this call's row errors."""

    id: str
    dataset: str
    dataset_version: int
    status: str
    counts: dict[str, int]
    scores: dict[str, dict[str, float]]
    errors: dict[str, str] = field(default_factory=dict)
    """example id → the error of each row this call could not score."""

    @property
    def run_id(self) -> str:
        """The run's id (as `id`), for `evaluate(…, resume=)` and the compare endpoint."""
        return self.id

    @property
    def summary(self) -> dict[str, Any]:
        """`{"counts", "scores"}` as the server reports them."""
        return {"counts": self.counts, "scores": self.scores}


class Evaluations(_Api):
    """Evaluation runs on the server: start, read, list, results, compare."""

    def start(
        self,
        dataset: str,
        name: str | None = None,
        version: int | None = None,
        only: str | None = None,
    ) -> dict[str, Any]:
        """A new run with a pending row for each example it covers."""
        body = {"dataset": dataset, "name": name, "dataset_version": version, "only": only}
        made: dict[str, Any] = self.json(
            "POST", "/v1/evaluations", json={k: v for k, v in body.items() if v is not None}
        )
        return made

    def get(self, run_id: str) -> dict[str, Any]:
        """The run with its counts and scores."""
        found: dict[str, Any] = self.json("GET", f"/v1/evaluations/{run_id}")
        return found

    def list(self, dataset: str | None = None) -> list[dict[str, Any]]:
        """Runs newest first (of one dataset when given)."""
        return [*self.pages("/v1/evaluations", {"dataset": dataset, "limit": 1000})]

    def results(self, run_id: str, status: str | None = None) -> Iterator[dict[str, Any]]:
        """The run's rows by example id (only `pending`, `done` or `error` ones if asked)."""
        params = {"status": status, "limit": 1000}
        return self.pages(f"/v1/evaluations/{run_id}/results", params)

    def store(self, run_id: str, results: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Store rows (`{"example_id","output","trace_id"?,"span_id"?,"scores","error"?}`)."""
        path = f"/v1/evaluations/{run_id}/results"
        stored: dict[str, Any] = self.json("POST", path, json={"results": list(results)})
        return stored

    def compare(self, run_id: str, baseline: str = "latest") -> dict[str, Any]:
        """Each example's scores in the run and the baseline with their change."""
        path = f"/v1/evaluations/{run_id}/compare"
        compared: dict[str, Any] = self.json("GET", path, params={"baseline": baseline})
        return compared


evaluations = Evaluations()


def evaluate(
    dataset: str,
    task: Task | None = None,
    evaluators: Sequence[Evaluator] = (),
    name: str | None = None,
    version: int | None = None,
    max_concurrency: int = 8,
    only: Literal["guardrails", "filled"] | None = None,
    *,
    resume: str | None = None,
    progress: Progress | None = None,
    url: str | None = None,
    token: str | None = None,
) -> EvaluationResult:
    """Score every example of `dataset` (its `version`, newest by default; `only` the
    guardrails or the annotated rows) and store the run; `resume=` continues a run.

    Without a task, the example's stored `output` is scored. `progress(done, total)` is called
    as rows finish. Uses `url`/`token`, else `plaudit.init`'s, else PLAUDIT_URL/PLAUDIT_TOKEN.
    """
    api = Evaluations(url, token)
    run = api.get(resume) if resume is not None else api.start(dataset, name, version, only)
    # A new run over a whole version covers every example of it; otherwise ask what is left.
    whole = resume is None and run["only"] is None
    pending = None if whole else {r["example_id"] for r in api.results(run["id"], "pending")}
    total = run["counts"]["examples"] if pending is None else len(pending)
    if task is not None and _setup.processor is None:
        server, secret = api.target()  # spans go where the results go
        init(url=server, token=secret)
    runner = _Runner(api, run, task, list(evaluators), progress)
    examples = (
        example
        for example in _examples(api, run["dataset"], run["dataset_version"])
        if pending is None or example["id"] in pending
    )
    try:
        runner.run(examples, total, max(1, max_concurrency))
    finally:
        if task is not None:  # the spans of every stored row reach the server, even when stopped
            flush(timeout=30)
    final = api.get(run["id"])
    return EvaluationResult(
        final["id"],
        final["dataset"],
        final["dataset_version"],
        final["status"],
        final["counts"],
        final["scores"],
        runner.errors,
    )


def _examples(api: _Api, dataset: str, version: int) -> Iterator[dict[str, Any]]:
    return api.pages(f"/v1/datasets/{dataset}/examples", {"version": version, "limit": 1000})


def _score_name(evaluator: Evaluator) -> str:
    named = getattr(evaluator, "name", None)
    if isinstance(named, str) and named:
        return named
    return str(getattr(evaluator, "__name__", type(evaluator).__name__))


def _settled(value: Any) -> Any:
    """A coroutine's result (an async task or evaluator), else the value itself."""
    return asyncio.run(value) if inspect.iscoroutine(value) else value


def _scores_of(name: str, returned: Any) -> dict[str, Any]:
    """An evaluator's answer as `{score name: value or {"value","comment"}}`."""
    if isinstance(returned, Mapping):
        found: dict[str, Any] = {}
        for key, value in returned.items():
            found.update(_scores_of(str(key), value))
        return found
    if isinstance(returned, Score):
        if returned.comment is None:
            return {name: returned.value}
        return {name: {"value": returned.value, "comment": returned.comment}}
    if isinstance(returned, bool | int | float):
        return {name: returned}
    raise TypeError(
        f"evaluator {name!r} returned {type(returned).__name__}: "
        "expected a number, a bool, a Score or a dict of them"
    )


class _Runner:
    """Runs rows on worker threads and stores them in batches; see the module docstring.

    A feeder thread pages through the examples into a bounded queue, `concurrency` workers take
    one row at a time, the main thread collects finished rows into batches (and hears Ctrl-C),
    and a poster thread stores the batches, so scoring never waits on the server.
    """

    def __init__(
        self,
        api: Evaluations,
        run: dict[str, Any],
        task: Task | None,
        evaluators: list[Evaluator],
        progress: Progress | None,
    ) -> None:
        self.api = api
        self.run_id: str = run["id"]
        self.task = task
        self.evaluators = [(_score_name(e), e) for e in evaluators]
        self.progress = progress
        self.errors: dict[str, str] = {}
        self.stored = 0
        self.stop = threading.Event()
        self.failure: BaseException | None = None
        self.lock = threading.Lock()

    def run(self, examples: Iterator[dict[str, Any]], total: int, concurrency: int) -> None:
        previous = self._catch_sigint()
        try:
            self._loop(examples, total, concurrency)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        if self.failure is not None:
            raise self.failure
        if self.stop.is_set():
            raise EvaluationInterrupted(self.run_id, self.stored)

    def _catch_sigint(self) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return None

        def stop(signum: int, frame: FrameType | None) -> None:
            if self.stop.is_set():
                raise KeyboardInterrupt
            self.stop.set()

        return signal.signal(signal.SIGINT, stop)

    def _fail(self, error: BaseException) -> None:
        if self.failure is None:
            self.failure = error
        self.stop.set()

    def _loop(self, examples: Iterator[dict[str, Any]], total: int, concurrency: int) -> None:
        todo: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=concurrency * 4)
        finished: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        batches: queue.Queue[list[dict[str, Any]] | None] = queue.Queue(maxsize=4)
        feeder = threading.Thread(target=self._feed, args=(examples, todo, concurrency))
        workers = [
            threading.Thread(target=self._work, args=(todo, finished), name=f"plaudit-eval-{n}")
            for n in range(concurrency)
        ]
        # Two posters: while one waits for the server's commit the next batch is on its way,
        # and the server's group commit stores both with one sync.
        posters = [threading.Thread(target=self._poster, args=(batches,)) for _ in range(POSTERS)]
        for thread in (feeder, *workers, *posters):
            thread.daemon = True  # a second Ctrl-C ends the program without waiting for them
            thread.start()
        running, done, buffer = concurrency, 0, []
        last_post = last_progress = time.monotonic()
        while running:
            try:
                row = finished.get(timeout=0.2)
            except queue.Empty:
                row = None
            now = time.monotonic()
            if row is not None and row.get(_END):
                running -= 1
            elif row is not None:
                buffer.append(row)
                done += 1
            if self.progress is not None and (now - last_progress > 0.1 or not running):
                self.progress(done, total)
                last_progress = now
            if buffer and (len(buffer) >= BATCH or now - last_post > BATCH_SECONDS):
                self._hand(batches, buffer)
                buffer, last_post = [], now
        if buffer:
            self._hand(batches, buffer)
        for _ in posters:
            batches.put(None)
        for poster in posters:
            poster.join()

    def _feed(
        self,
        examples: Iterator[dict[str, Any]],
        todo: "queue.Queue[dict[str, Any] | None]",
        concurrency: int,
    ) -> None:
        """Queue every example, then one end mark per worker; stop early when told to."""
        try:
            for item in itertools.chain(examples, [None] * concurrency):
                while not self._put(todo, item):
                    if self.stop.is_set():
                        return
        except BaseException as error:  # paging the examples failed: the run cannot go on
            self._fail(error)

    @staticmethod
    def _put(into: "queue.Queue[Any]", item: Any) -> bool:
        try:
            into.put(item, timeout=0.2)
        except queue.Full:
            return False
        return True

    def _work(
        self,
        todo: "queue.Queue[dict[str, Any] | None]",
        finished: "queue.SimpleQueue[dict[str, Any] | None]",
    ) -> None:
        """Run rows until the examples end or the run stops (the row under way finishes)."""
        try:
            while not self.stop.is_set():
                try:
                    example = todo.get(timeout=0.2)
                except queue.Empty:
                    continue
                if example is None:
                    break
                finished.put(self._row(example))
        finally:
            finished.put({_END: True})

    def _hand(self, batches: "queue.Queue[list[dict[str, Any]] | None]", batch: list[Any]) -> None:
        """Give a batch to the poster, waiting while it is behind (unless it has failed)."""
        while self.failure is None and not self._put(batches, batch):
            pass

    def _poster(self, batches: "queue.Queue[list[dict[str, Any]] | None]") -> None:
        while (batch := batches.get()) is not None:
            if self.failure is not None:
                continue  # drained, never stored: the run fails with the first error
            try:
                self._post(batch)
            except BaseException as error:
                self._fail(error)

    def _row(self, example: dict[str, Any]) -> dict[str, Any]:
        """One example run and scored; never raises."""
        example_id = example["id"]
        row: dict[str, Any] = {"example_id": example_id, "scores": {}}
        output = example.get("output")
        if self.task is not None:
            output, links, failure = self._traced(example)
            row.update(links)
            if failure is not None:  # the task's failure is this row's error
                row["error"] = f"task: {type(failure).__name__}: {failure}"
                self.errors[example_id] = row["error"]
                return row
        row["output"] = output
        problems: list[str] = []
        for name, evaluator in self.evaluators:
            try:
                returned = _settled(
                    evaluator(
                        example.get("input"), output, example.get("expected"),
                        example.get("metadata"),
                    )
                )  # fmt: skip
                row["scores"].update(_scores_of(name, returned))
            except Exception as error:  # an evaluator's failure is this row's error
                problems.append(f"{name}: {type(error).__name__}: {error}")
        if problems:
            row["error"] = "; ".join(problems)
            self.errors[example_id] = row["error"]
        return row

    def _traced(self, example: dict[str, Any]) -> tuple[Any, dict[str, str], Exception | None]:
        """The task's output for the example, made in a span of the run; the span's ids; the
        task's exception, if it raised one (recorded on the span)."""
        assert self.task is not None
        metadata = example.get("metadata")
        capability = metadata.get("capability") if isinstance(metadata, dict) else None
        attributes = {EVALUATION: self.run_id, EXAMPLE: example["id"]}
        with span("evaluation", capability=capability, step="evaluate", **attributes) as current:
            current.set_attribute("input.value", example.get("input"))
            ids = current.links()
            links = {
                key: value
                for key, value in (("trace_id", ids["trace_id"]), ("span_id", ids["span_id"]))
                if value is not None
            }
            try:
                output = _settled(self.task(example.get("input")))
            except Exception as error:
                current.otel_span.record_exception(error)
                current.otel_span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}"))
                return None, links, error
            current.set_attribute("output.value", output)
        return output, links, None

    def _post(self, batch: list[dict[str, Any]]) -> None:
        """Store a batch; rows whose scores the server refuses keep them as their error."""
        try:
            self.api.store(self.run_id, batch)
        except ApiError as error:
            if error.status == 413 and len(batch) > 1:  # large outputs: send halves
                half = len(batch) // 2
                self._post(batch[:half])
                self._post(batch[half:])
                return
            if error.status != 422 or not self._strip_refused(batch, error.problem):
                raise
            self.api.store(self.run_id, batch)
        with self.lock:
            self.stored += len(batch)

    def _strip_refused(self, batch: list[dict[str, Any]], problem: dict[str, Any]) -> bool:
        """Turn the scores a 422 names into errors of their rows; whether any was found."""
        changed = False
        for issue in problem.get("errors", []):
            parts = str(issue.get("pointer", "")).split("/")
            if len(parts) < 5 or parts[1] != "results" or parts[3] != "scores":
                continue
            row = batch[int(parts[2])]
            name = parts[4].replace("~1", "/").replace("~0", "~")
            if row["scores"].pop(name, None) is not None:
                note = f"{name}: refused by the server: {issue.get('detail', '')}"
                row["error"] = f"{row['error']}; {note}" if row.get("error") else note
                self.errors[row["example_id"]] = row["error"]
                changed = True
        return changed
