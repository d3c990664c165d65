"""`plaudit eval run`: score a dataset with a task and evaluators from the caller's own code,
against a server (`--url`/`--token` or PLAUDIT_URL/PLAUDIT_TOKEN), and compare with a baseline.

It runs where the task's code lives, through the SDK's `evaluate`, so a shell, CI and Python get
the same runs. Ctrl-C stores the rows under way and names the run to `--resume`.
"""

import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from plaudit.cli.output import Group, emit, fail

if TYPE_CHECKING:  # the SDK (and httpx under it) is imported by the commands that call it
    from plaudit.sdk.evaluation import EvaluationResult, Evaluations

app = typer.Typer(help="Evaluations: score a dataset with your task and evaluators.", cls=Group)

INTERRUPTED_EXIT = 130


def load(spec: str, option: str) -> Callable[..., Any]:
    """The callable `module:attribute` names (the current directory is importable)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise fail(f"{option} {spec!r}: expected module:function", code=2)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        found: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as error:
        raise fail(f"{option} {spec!r}: {error}", code=2) from None
    if not callable(found):
        raise fail(f"{option} {spec!r} is not callable", code=2)
    return found  # type: ignore[no-any-return]


class _Bar:
    """Rows done of the run, on stderr when it is a terminal."""

    def __init__(self) -> None:
        console = Console(stderr=True)
        self.bar = Progress(
            TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=console, disable=not console.is_terminal,
        )  # fmt: skip
        self.task = self.bar.add_task("evaluate", total=None)

    def __enter__(self) -> Callable[[int, int], None]:
        self.bar.start()
        return lambda done, total: self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *_: object) -> None:
        self.bar.stop()


def _evaluators(
    specs: list[str],
    judge_url: str | None,
    judge_model: str | None,
    judge_prompt: Path | None,
    judge_key: str | None,
    judge_name: str,
) -> list[Callable[..., Any]]:
    chosen = [load(spec, "--evaluator") for spec in specs]
    if judge_url is not None or judge_model is not None or judge_prompt is not None:
        if judge_url is None or judge_model is None or judge_prompt is None:
            raise fail("--judge-url, --judge-model and --judge-prompt go together", code=2)
        from plaudit.sdk.evals import llm_judge

        prompt = judge_prompt.read_text()
        chosen.append(llm_judge(judge_url, judge_model, prompt, judge_key, name=judge_name))
    if not chosen:
        raise fail("give at least one --evaluator or an LLM judge (--judge-url …)", code=2)
    return chosen


def _regressions(compared: dict[str, Any] | None) -> list[dict[str, Any]]:
    if compared is None:
        return []
    return [
        {"example_id": item["example_id"], "score": name, **{k: s[k] for k in ("baseline", "run")}}
        for item in compared["items"]
        for name, s in item["scores"].items()
        if s["change"] == "regressed"
    ]


def _table(result: "EvaluationResult", compared: dict[str, Any] | None) -> Table:
    table = Table()
    for column in ("score", "mean", "pass rate", "improved", "regressed"):
        table.add_column(column, justify="left" if column == "score" else "right")
    summary = compared["summary"] if compared else {}
    for name, score in sorted(result.scores.items()):
        changes = summary.get(name, {})
        table.add_row(
            name,
            f"{score['mean']:.3f}",
            f"{score['pass_rate']:.1%}",
            str(changes.get("improved", "-")),
            str(changes.get("regressed", "-")),
        )
    return table


def _compare(api: "Evaluations", run_id: str, baseline: str) -> dict[str, Any] | None:
    from plaudit.sdk.loop import ApiError

    try:
        return api.compare(run_id, baseline)
    except ApiError as error:
        if error.status == 404 and baseline == "latest":
            return None  # the dataset's first finished run: nothing to compare with
        raise


@app.command("run")
def run(
    dataset: Annotated[str, typer.Option(help="The dataset to evaluate.")],
    task: Annotated[
        str | None, typer.Option(help="module:function making a new output from an input.")
    ] = None,
    evaluator: Annotated[
        list[str] | None,
        typer.Option(help="module:function(input, output, expected, metadata); repeatable."),
    ] = None,
    judge_url: Annotated[
        str | None, typer.Option(help="An OpenAI-compatible API base for an LLM judge.")
    ] = None,
    judge_model: Annotated[str | None, typer.Option(help="The judge's model.")] = None,
    judge_prompt: Annotated[
        Path | None, typer.Option(help="File with the judge's prompt ({{input}}, {{output}}…).")
    ] = None,
    judge_key: Annotated[
        str | None, typer.Option(envvar="PLAUDIT_JUDGE_API_KEY", help="The judge's API key.")
    ] = None,
    judge_name: Annotated[str, typer.Option(help="The judge's score name.")] = "llm-judge",
    baseline: Annotated[
        str, typer.Option(help="A run id, or 'latest' (the newest finished run).")
    ] = "latest",
    fail_on_regression: Annotated[
        bool,
        typer.Option(
            "--fail-on-regression",
            help="Exit 1 when an example fails a score it passed in the baseline.",
        ),
    ] = False,
    only: Annotated[
        str | None, typer.Option(help="'guardrails' or 'filled': only those examples.")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Rows at once.")] = 8,
    resume: Annotated[str | None, typer.Option(help="Continue an interrupted run.")] = None,
    name: Annotated[str | None, typer.Option(help="A name for the run.")] = None,
    version: Annotated[int | None, typer.Option(help="The dataset version (newest).")] = None,
    url: Annotated[str | None, typer.Option(envvar="PLAUDIT_URL", help="The server.")] = None,
    token: Annotated[str | None, typer.Option(envvar="PLAUDIT_TOKEN", help="A token.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run the task over the dataset, score every row, then show each score's mean, pass rate
    and changes against the baseline."""
    if only not in (None, "guardrails", "filled"):
        raise fail("--only is 'guardrails' or 'filled'", code=2)
    chosen_task = load(task, "--task") if task is not None else None
    scorers = _evaluators(
        evaluator or [], judge_url, judge_model, judge_prompt, judge_key, judge_name
    )
    if url is None:
        raise fail("no server: pass --url or set PLAUDIT_URL", code=2)
    from plaudit.sdk.evaluation import EvaluationInterrupted, Evaluations, evaluate
    from plaudit.sdk.loop import ApiError

    api = Evaluations(url, token)
    try:
        with _Bar() as progress:
            result = evaluate(
                dataset, chosen_task, scorers, name=name, version=version,
                max_concurrency=concurrency, only=only,  # type: ignore[arg-type]
                resume=resume, progress=progress, url=url, token=token,
            )  # fmt: skip
        compared = _compare(api, result.id, baseline)
    except EvaluationInterrupted as stopped:
        typer.echo(
            f"interrupted: {stopped.stored} row(s) stored; continue with --resume {stopped.run_id}",
            err=True,
        )
        raise typer.Exit(INTERRUPTED_EXIT) from None
    except KeyboardInterrupt:  # before the run had rows under way (or a second Ctrl-C)
        typer.echo("interrupted", err=True)
        raise typer.Exit(INTERRUPTED_EXIT) from None
    except ApiError as error:
        raise fail(str(error)) from None
    _report(result, compared, json)
    regressed = _regressions(compared)
    if fail_on_regression and regressed:
        for row in regressed:
            typer.echo(
                f"regressed: {row['example_id']} ({row['score']}: "
                f"{row['baseline']} -> {row['run']})",
                err=True,
            )
        raise typer.Exit(1)


def _report(result: "EvaluationResult", compared: dict[str, Any] | None, as_json: bool) -> None:
    if as_json:
        emit(
            {
                "run": {"id": result.id, "dataset": result.dataset,
                        "dataset_version": result.dataset_version, "status": result.status,
                        "counts": result.counts, "scores": result.scores},
                "baseline": compared["baseline"] if compared else None,
                "summary": compared["summary"] if compared else None,
                "regressed": _regressions(compared),
                "errors": result.errors,
            },
            True,
            "",
        )  # fmt: skip
        return
    typer.echo(f"run {result.id}")
    typer.echo(f"baseline {compared['baseline'] if compared else '(none)'}")
    Console().print(_table(result, compared))
    counts = result.counts
    typer.echo(f"{counts['done']} scored, {counts['errors']} with errors, of {counts['examples']}")
    for example_id, error in sorted(result.errors.items())[:10]:
        typer.echo(f"  error {example_id}: {error}")
