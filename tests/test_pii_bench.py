"""`bench/pii.py` scores the PII detector on its generated corpus: ≥ 0.95 precision and recall.

Unlike speed, precision and recall do not depend on the machine, so the target is asserted here.
The corpus generator is checked too: its checksums must be the real ones, or the figures would
measure nothing.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.pii_corpus import build_corpus
from bench.pii_values import DECOY_MAKERS

from plaudit.core.pii import PiiType, iban_valid, luhn_valid

BENCH = Path(__file__).resolve().parent.parent / "bench" / "pii.py"

# Look-alikes the corpus must hold (the kinds of text most often mistaken for PII).
DECOYS = {
    "order number", "date or time", "version", "hash", "uuid", "trace or span id", "money",
    "card failing Luhn", "iban failing mod-97", "loopback or reserved ip", "code",
    "file name or handle",
}  # fmt: skip


def run_bench() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_every_type_meets_the_target_on_the_corpus() -> None:
    report = run_bench()

    assert report["texts"] >= 500
    assert set(report["types"]) == {kind.value for kind in PiiType}
    for kind, score in report["types"].items():
        assert score["examples"] >= 50, kind
        assert score["precision"] >= 0.95, (kind, score)
        assert score["recall"] >= 0.95, (kind, score)
        assert score["met"], kind
    assert set(report["decoys"]) >= DECOYS


def test_the_corpus_is_the_same_for_the_same_seed() -> None:
    assert build_corpus(7) == build_corpus(7)
    assert build_corpus(7) != build_corpus(8)


def test_labels_and_decoys_lie_inside_their_text() -> None:
    for example in build_corpus():
        for span in example.labels + example.decoys + example.limits:
            assert 0 <= span.start < span.end <= len(example.text), example
            piece = example.text[span.start : span.end]
            assert piece.strip() == piece, example
    assert set(DECOY_MAKERS) >= DECOYS


def _pieces(kind: str) -> list[str]:
    return [
        example.text[label.start : label.end]
        for example in build_corpus()
        for label in example.labels
        if label.kind == kind
    ]


def _decoys(category: str) -> list[str]:
    return [
        example.text[decoy.start : decoy.end]
        for example in build_corpus()
        for decoy in example.decoys
        if decoy.kind == category
    ]


def test_generated_cards_and_ibans_pass_their_checks_and_the_decoys_fail_them() -> None:
    cards = [card.replace(" ", "").replace("-", "") for card in _pieces("card")]
    assert cards and all(luhn_valid(card) for card in cards)
    assert all(iban_valid(iban) for iban in _pieces("iban"))
    failing_cards = [card.replace(" ", "") for card in _decoys("card failing Luhn")]
    assert failing_cards and not any(luhn_valid(card) for card in failing_cards)
    failing_ibans = _decoys("iban failing mod-97")
    assert failing_ibans and not any(iban_valid(iban) for iban in failing_ibans)
