"""Typed contexts of the console's evaluation pages: agreement between end users and an
evaluator (see pages.py for the contract these follow)."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AgreementRow:
    """The figures of one capability (or of every span, `capability` empty)."""

    capability: str
    n: int
    agreement: float | None
    kappa: float | None
    pearson: float | None
    tp: int
    fp: int
    fn: int
    tn: int


@dataclass(frozen=True, slots=True)
class AgreementPage:
    """The chosen names and range, the names to choose among, and the figures."""

    user: str
    evaluator: str
    since: str
    user_names: list[str]
    evaluator_names: list[str]
    ranges: tuple[tuple[str, str], ...]
    overall: AgreementRow | None
    rows: list[AgreementRow]
    error: str = ""
