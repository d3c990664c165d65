"""A small, bounded mutation check: flip one thing in a module, run its tests, see them fail.

    .venv/bin/python scripts/mutation.py src/plaudit/store/links.py \\
        --seconds 300 -- tests/server/test_startup_linking.py tests/server/test_response_id.py

Each mutant changes one spot of the module: a comparison flipped (`==`/`!=`, `<`/`>=`, `in`/
`not in`, `is`/`is not`), `and`/`or` swapped, a `not` dropped, `+`/`-` swapped, a number moved by
one, `True`/`False` swapped, `None` defaults, or one call statement removed. The module is
rewritten in place for the run and always restored. The tests run with `-x` and a per-mutant
timeout; a mutant the tests do not fail "survives" and is listed with its line, so a reader can
judge it: equivalent (no behaviour a user could see changes), or a test to add.

Bounded by `--seconds` (what is not run by then is counted, not hidden) and `--lines A-B,C-D`.
Docstrings and logging calls are left alone. Needs nothing beyond the standard library and the
project's test environment.
"""

import argparse
import ast
import copy
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_FLIP_COMPARE: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.GtE: ast.Lt,
    ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.In: ast.NotIn, ast.NotIn: ast.In,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}  # fmt: skip
_FLIP_BINARY: dict[type[ast.operator], type[ast.operator]] = {ast.Add: ast.Sub, ast.Sub: ast.Add}
_LOGGERS = {"log", "logger", "logging"}


@dataclass(frozen=True)
class Mutant:
    """One change: which node (by its index in a walk of the tree) and how."""

    index: int
    kind: str
    line: int
    description: str


def _skipped(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Docstrings, logging calls and type annotations: changing them changes nothing to test."""
    current: ast.AST | None = node
    while current is not None:
        if isinstance(current, ast.Call):
            func = current.func
            named = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            if named and func.value.id in _LOGGERS:  # type: ignore[union-attr]
                return True
        if isinstance(current, ast.Expr) and isinstance(current.value, ast.Constant):
            return True  # a docstring
        parent = parents.get(current)
        if isinstance(parent, ast.FunctionDef | ast.ClassDef) and current in parent.decorator_list:
            return True  # e.g. dataclass(frozen=True): no behaviour a test reads
        if isinstance(parent, ast.AnnAssign | ast.arg) and current is getattr(
            parent, "annotation", None
        ):
            return True
        if isinstance(parent, ast.FunctionDef) and current is parent.returns:
            return True
        current = parent
    return False


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def mutants(tree: ast.Module) -> Iterator[Mutant]:
    """Every mutant of the module, in source order."""
    parents = _parents(tree)
    for index, node in enumerate(ast.walk(tree)):
        if _skipped(node, parents):
            continue
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Compare):
            for position, op in enumerate(node.ops):
                flipped = _FLIP_COMPARE.get(type(op))
                if flipped is not None:
                    yield Mutant(
                        index,
                        f"compare:{position}",
                        line,
                        f"{type(op).__name__} -> {flipped.__name__}",
                    )
        elif isinstance(node, ast.BoolOp):
            other = "Or" if isinstance(node.op, ast.And) else "And"
            yield Mutant(index, "boolop", line, f"{type(node.op).__name__} -> {other}")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield Mutant(index, "not", line, "not x -> x")
        elif isinstance(node, ast.BinOp) and type(node.op) in _FLIP_BINARY:
            yield Mutant(index, "binop", line, f"{type(node.op).__name__} swapped")
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                yield Mutant(index, "bool", line, f"{node.value} -> {not node.value}")
            elif isinstance(node.value, int):
                yield Mutant(index, "int", line, f"{node.value} -> {node.value + 1}")
        elif (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and not _skipped(node.value, parents)
        ):
            yield Mutant(index, "drop-call", line, f"drop `{ast.unparse(node)[:60]}`")


def apply(tree: ast.Module, mutant: Mutant) -> str:
    """The module's source with `mutant` applied."""
    changed = copy.deepcopy(tree)
    node = list(ast.walk(changed))[mutant.index]
    if mutant.kind.startswith("compare:"):
        assert isinstance(node, ast.Compare)
        position = int(mutant.kind.split(":")[1])
        node.ops[position] = _FLIP_COMPARE[type(node.ops[position])]()
    elif mutant.kind == "boolop":
        assert isinstance(node, ast.BoolOp)
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif mutant.kind == "not":
        assert isinstance(node, ast.UnaryOp)
        parent = _parents(changed)[node]
        _replace(parent, node, node.operand)
    elif mutant.kind == "binop":
        assert isinstance(node, ast.BinOp)
        node.op = _FLIP_BINARY[type(node.op)]()
    elif mutant.kind == "bool":
        assert isinstance(node, ast.Constant)
        node.value = not node.value
    elif mutant.kind == "int":
        assert isinstance(node, ast.Constant)
        node.value = node.value + 1
    elif mutant.kind == "drop-call":
        parent = _parents(changed)[node]
        _replace(parent, node, ast.Pass())
    return ast.unparse(ast.fix_missing_locations(changed))


def _replace(parent: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for name, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, name, new)
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                if item is old:
                    value[i] = new
                    return
    raise ValueError("node not found under its parent")


def run_tests(tests: list[str], timeout: float) -> str:
    """'killed', 'survived' or 'timeout' for one run of the tests."""
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, env=os.environ)
    except subprocess.TimeoutExpired:
        return "timeout"  # counts as killed: the tests did not pass
    return "survived" if done.returncode == 0 else "killed"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("module", type=Path)
    parser.add_argument("tests", nargs="+", help="pytest arguments (after --)")
    parser.add_argument("--seconds", type=float, default=300, help="budget for the whole run")
    parser.add_argument("--timeout", type=float, default=120, help="per mutant")
    parser.add_argument("--lines", help="only mutants on lines A-B[,C-D…]")
    parser.add_argument("--list", action="store_true", help="list the mutants; run nothing")
    args = parser.parse_args()

    original = args.module.read_text()
    tree = ast.parse(original)
    found = sorted(mutants(tree), key=lambda m: (m.line, m.index, m.kind))
    if args.lines:
        ranges = [[int(n) for n in part.split("-")] for part in args.lines.split(",")]
        found = [m for m in found if any(r[0] <= m.line <= r[-1] for r in ranges)]
    if args.list:
        for m in found:
            print(f"{args.module}:{m.line}: {m.description}")
        return 0
    if run_tests(args.tests, args.timeout) != "survived":
        print("the tests fail without any mutant: fix them first", file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.seconds
    outcomes: dict[str, list[Mutant]] = {"killed": [], "timeout": [], "survived": []}
    not_run = 0
    try:
        for mutant in found:
            if time.monotonic() > deadline:
                not_run += 1
                continue
            args.module.write_text(apply(tree, mutant))
            outcome = run_tests(args.tests, args.timeout)
            outcomes[outcome].append(mutant)
            print(f"{outcome:9} {args.module}:{mutant.line}: {mutant.description}", flush=True)
    finally:
        args.module.write_text(original)
    print(
        f"\n{len(found)} mutants: {len(outcomes['killed'])} killed, "
        f"{len(outcomes['timeout'])} timed out, {len(outcomes['survived'])} survived, "
        f"{not_run} not run (budget)"
    )
    for mutant in outcomes["survived"]:
        print(f"  survived {args.module}:{mutant.line}: {mutant.description}")
    return 1 if outcomes["survived"] else 0


if __name__ == "__main__":
    sys.exit(main())
