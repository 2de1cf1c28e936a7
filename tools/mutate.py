"""A small mutation test: apply one targeted change at a time to a module and see whether the
tests that cover it notice. Run by hand, never by the test suite (it takes minutes)::

    python tools/mutate.py src/polymux/client/fold.py tests/test_fold_whole.py ... --minutes 10

Each mutant flips one comparison, arithmetic or boolean operator, negates one condition,
bumps one number, swaps one True/False, turns one ``break`` into ``pass``, or makes one
``return`` return None. The mutated module is written into a copy of ``src`` (the checkout is
never touched) and the given tests run against it (first failure stops them). A mutant is
killed when the tests fail or hang; it survives when they pass. Survivors are listed with
their line, for a reader to judge which are equivalent (no test could tell them apart).
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_SWAP: dict[type[ast.AST], type[ast.AST]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Pow: ast.Mult,
    ast.And: ast.Or,
    ast.Or: ast.And,
}


def _docstrings(tree: ast.Module) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        value = first.value if isinstance(first, ast.Expr) else None
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            ids.add(id(value))
    return ids


def mutants(source: str) -> Iterator[tuple[int, str, str]]:
    """(line, description, mutated source) for every mutant of ``source``."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    nodes = [n for n in ast.walk(tree) if id(n) not in skip]
    for index, node in enumerate(nodes):
        for description, change in _changes(node):
            mutated = copy.deepcopy(tree)
            skipped = _docstrings(mutated)
            target = [n for n in ast.walk(mutated) if id(n) not in skipped][index]
            change(target)
            yield getattr(node, "lineno", 0), description, ast.unparse(mutated)


def _changes(node: ast.AST) -> Iterator[tuple[str, Callable[[ast.AST], None]]]:
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in _SWAP:
                new = _SWAP[type(op)]

                def swap(n: ast.AST, i: int = i, new: type[ast.AST] = new) -> None:
                    n.ops[i] = new()  # type: ignore[attr-defined]

                yield f"{type(op).__name__} -> {new.__name__}", swap
    elif isinstance(node, (ast.BinOp, ast.AugAssign, ast.BoolOp)) and type(node.op) in _SWAP:
        new = _SWAP[type(node.op)]

        def swap_op(n: ast.AST, new: type[ast.AST] = new) -> None:
            n.op = new()  # type: ignore[attr-defined]

        yield f"{type(node.op).__name__} -> {new.__name__}", swap_op
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):

        def drop_not(n: ast.AST) -> None:
            n.op = ast.UAdd()  # type: ignore[attr-defined]
            n.operand = ast.Call(ast.Name("bool", ast.Load()), [n.operand], [])  # type: ignore[attr-defined]

        yield "drop not", drop_not
    elif isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool):

            def flip(n: ast.AST) -> None:
                n.value = not n.value  # type: ignore[attr-defined]

            yield f"{value} -> {not value}", flip
        elif isinstance(value, (int, float)):

            def bump(n: ast.AST) -> None:
                n.value = n.value + 1  # type: ignore[attr-defined]

            yield f"{value} -> {value + 1}", bump
    elif isinstance(node, ast.Break):

        def to_pass(n: ast.AST) -> None:
            n.__class__ = ast.Pass

        yield "break -> pass", to_pass
    elif isinstance(node, ast.Return) and node.value is not None:
        returns_none = isinstance(node.value, ast.Constant) and node.value.value is None
        if not returns_none:

            def to_none(n: ast.AST) -> None:
                n.value = ast.Constant(None)  # type: ignore[attr-defined]

            yield "return None", to_none
    if isinstance(node, (ast.If, ast.While, ast.IfExp)):

        def negate(n: ast.AST) -> None:
            n.test = ast.UnaryOp(ast.Not(), n.test)  # type: ignore[attr-defined]

        yield "negate condition", negate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module", type=Path, help="the module to mutate, under src/")
    parser.add_argument("tests", nargs="+", help="the tests that cover it")
    parser.add_argument("--minutes", type=float, default=10.0, help="stop after this long")
    parser.add_argument("--timeout", type=float, default=120.0, help="a mutant's test run")
    parser.add_argument("--seed", type=int, default=14, help="the order mutants are run in")
    args = parser.parse_args()
    module = args.module.resolve()
    relative = module.relative_to(ROOT / "src")
    source = module.read_text(encoding="utf-8")
    work = Path(tempfile.mkdtemp(prefix="polymux-mutate-"))
    shutil.copytree(ROOT / "src", work / "src")
    target = work / "src" / relative
    # Only the asyncio plugin: the others (hypothesis via schemathesis, ...) double the cost
    # of every run.
    env = dict(
        os.environ,
        PYTHONPATH=str(work / "src"),
        PYTHONDONTWRITEBYTECODE="1",
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    pytest = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "asyncio"]
    command = [*pytest, "-p", "no:cacheprovider", *args.tests]
    stop_at = time.monotonic() + args.minutes * 60
    killed = survived = 0
    survivors: list[str] = []
    try:
        # In a random (seeded) order: a run cut short by --minutes is still a fair sample.
        every = list(mutants(source))
        random.Random(args.seed).shuffle(every)
        print(f"{relative}: {len(every)} mutants", flush=True)
        for line, description, mutated in every:
            if time.monotonic() > stop_at:
                print("time is up: the remaining mutants were not run")
                break
            target.write_text(mutated, encoding="utf-8")
            try:
                result = subprocess.run(
                    command, cwd=ROOT, env=env, capture_output=True, timeout=args.timeout
                )
                passed = result.returncode == 0
            except subprocess.TimeoutExpired:
                passed = False
            if passed:
                survived += 1
                survivors.append(f"{relative}:{line}: {description}")
            else:
                killed += 1
            print(f"  {'SURVIVED' if passed else 'killed'} line {line}: {description}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = killed + survived
    print(f"{relative}: {killed}/{total} mutants killed ({100 * killed / max(total, 1):.1f}%)")
    for survivor in survivors:
        print("  survived:", survivor)


if __name__ == "__main__":
    main()
