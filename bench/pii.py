"""PII benchmark: precision and recall of `find_pii` per type, on a generated labelled corpus.

    python bench/pii.py                 # the table
    python bench/pii.py --json          # machine-readable (used by tests/test_pii_bench.py)
    python bench/pii.py --show-errors   # also every missed label and every false positive
    python bench/pii.py --seed 7        # another corpus of the same shape

The corpus (bench/pii_corpus.py) holds feedback sentences with labelled PII and look-alikes that
must not be flagged. A finding is a true positive when it overlaps a label of its own type; a
label is found when a finding of its type overlaps it. Target: precision and recall ≥ 0.95 for
every type. The figures are those of an unlimited `ScanBudget`, so that they do not depend on
how busy the machine is; each text is also scanned with a fresh default budget, as a request is,
and the texts whose findings that changes are counted (`budget_changed`: it should stay 0, texts
this short never reach the budget). The exit code is 1 when a type misses the target.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `bench` when run as a script

from bench.pii_corpus import DEFAULT_SEED, Example, Span, build_corpus
from plaudit.core.pii import Finding, PiiType, ScanBudget, find_pii

TARGET = 0.95


@dataclass(slots=True)
class TypeScore:
    """Counts for one PII type: labels found or missed, findings right or wrong."""

    examples: int = 0
    found: int = 0
    findings: int = 0
    true_findings: int = 0

    @property
    def precision(self) -> float:
        return self.true_findings / self.findings if self.findings else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.examples if self.examples else 1.0

    @property
    def met(self) -> bool:
        return self.examples > 0 and min(self.precision, self.recall) >= TARGET


@dataclass(slots=True)
class Report:
    """Scores per type, false positives per look-alike category, and what went wrong."""

    texts: int = 0
    types: dict[str, TypeScore] = field(
        default_factory=lambda: {kind.value: TypeScore() for kind in PiiType}
    )
    decoys: dict[str, list[int]] = field(default_factory=dict)  # category: [examples, flagged]
    limits: dict[str, Counter[str]] = field(default_factory=dict)  # name: examples, found as…
    budget_changed: int = 0
    errors: list[str] = field(default_factory=list)


def _overlaps(finding: Finding, span: Span) -> bool:
    return finding.start < span.end and span.start < finding.end


def _score_labels(report: Report, example: Example, findings: list[Finding]) -> None:
    for label in example.labels:
        score = report.types[label.kind]
        score.examples += 1
        if any(f.type.value == label.kind and _overlaps(f, label) for f in findings):
            score.found += 1
        else:
            piece = example.text[label.start : label.end]
            report.errors.append(f"missed {label.kind}: {piece!r} in {example.text!r}")


def _score_limits(report: Report, example: Example, findings: list[Finding]) -> list[Finding]:
    """Tally what became of each documented limit; the findings that are not on one."""
    rest = findings
    for limit in example.limits:
        on_it = [f for f in rest if _overlaps(f, limit)]
        outcome = report.limits.setdefault(limit.kind, Counter())
        outcome["examples"] += 1
        outcome.update({f.type.value for f in on_it})
        rest = [f for f in rest if f not in on_it]
    return rest


def _score_findings(report: Report, example: Example, findings: list[Finding]) -> None:
    flagged: set[str] = set()
    for finding in _score_limits(report, example, findings):
        score = report.types[finding.type.value]
        score.findings += 1
        if any(label.kind == finding.type.value and _overlaps(finding, label)
               for label in example.labels):  # fmt: skip
            score.true_findings += 1
            continue
        causes = [decoy.kind for decoy in example.decoys if _overlaps(finding, decoy)]
        flagged.update(causes)
        piece = example.text[finding.start : finding.end]
        cause = f" ({', '.join(causes)})" if causes else ""
        report.errors.append(f"false {finding.type.value}{cause}: {piece!r} in {example.text!r}")
    for decoy in example.decoys:
        counts = report.decoys.setdefault(decoy.kind, [0, 0])
        counts[0] += 1
        counts[1] += decoy.kind in flagged


def _unlimited() -> ScanBudget:
    return ScanBudget(phone_checks=sys.maxsize, text_seconds=math.inf, request_seconds=math.inf)


def run(seed: int) -> tuple[Report, float]:
    """Score `find_pii` on the corpus of `seed`; also the seconds the budgeted scans took."""
    report = Report()
    corpus = build_corpus(seed)
    report.texts = len(corpus)
    find_pii("warm up +1 415 555 2671")  # libphonenumber's import is not part of the figure
    elapsed = 0.0
    for example in corpus:
        began = time.perf_counter()
        budgeted = find_pii(example.text, budget=ScanBudget())
        elapsed += time.perf_counter() - began
        findings = find_pii(example.text, budget=_unlimited())
        report.budget_changed += budgeted != findings
        _score_labels(report, example, findings)
        _score_findings(report, example, findings)
    return report, elapsed


def as_json(report: Report, seed: int, seconds: float) -> dict[str, Any]:
    return {
        "seed": seed,
        "texts": report.texts,
        "target": TARGET,
        "types": {
            kind: {
                "examples": score.examples,
                "found": score.found,
                "findings": score.findings,
                "false_positives": score.findings - score.true_findings,
                "precision": round(score.precision, 4),
                "recall": round(score.recall, 4),
                "met": score.met,
            }
            for kind, score in report.types.items()
        },
        "decoys": {
            category: {"examples": examples, "flagged": flagged}
            for category, (examples, flagged) in sorted(report.decoys.items())
        },
        "limits": {name: dict(outcome) for name, outcome in sorted(report.limits.items())},
        "budget_changed": report.budget_changed,
        "scan_seconds": round(seconds, 4),
    }


def print_table(report: Report, seconds: float) -> None:
    print(f"{'type':<12} {'examples':>8} {'false pos.':>10} {'precision':>9} {'recall':>7}  target")
    for kind, score in report.types.items():
        false = score.findings - score.true_findings
        verdict = "met" if score.met else f"MISSED (≥ {TARGET})"
        print(
            f"{kind:<12} {score.examples:>8} {false:>10} {score.precision:>9.3f} "
            f"{score.recall:>7.3f}  {verdict}"
        )
    print(f"\n{'look-alike':<26} {'examples':>8} {'flagged':>8}")
    for category, (examples, flagged) in sorted(report.decoys.items()):
        print(f"{category:<26} {examples:>8} {flagged:>8}")
    print(f"\n{'documented limit (not scored)':<42} {'examples':>8}  found as")
    for name, outcome in sorted(report.limits.items()):
        found = ", ".join(
            f"{kind} {n}" for kind, n in sorted(outcome.items()) if kind != "examples"
        )
        print(f"{name:<42} {outcome['examples']:>8}  {found or '-'}")
    print(
        f"\n{report.texts} texts, scanned in {seconds * 1000:.0f} ms; "
        f"texts whose result the scan budget changed: {report.budget_changed}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--json", action="store_true", help="JSON on stdout instead of tables")
    parser.add_argument("--show-errors", action="store_true", help="list misses and false hits")
    args = parser.parse_args()
    report, seconds = run(args.seed)
    if args.json:
        print(json.dumps(as_json(report, args.seed, seconds), indent=2))
    else:
        print_table(report, seconds)
    if args.show_errors:
        print("\n".join(report.errors), file=sys.stderr if args.json else sys.stdout)
    sys.exit(0 if all(score.met for score in report.types.values()) else 1)


if __name__ == "__main__":
    main()
