"""A small mutation run: does a module's own test file notice when its code is wrong?

For each mutant of MODULE -- one comparison, boolean operator, ``not``,
``if`` condition, integer or boolean constant changed at a time -- the test
files are run (``pytest -x``) against a copy of the source tree in which
only that mutant differs. A mutant the tests fail on is *killed*; one they
pass is a *survivor*, printed with its line, to be killed by a new test or
explained. The working tree is never changed (other runs may be using it):
the copy is put first on ``PYTHONPATH``, which the forked and new buildout
processes of the tests inherit.

    .venv/bin/python tools/mutate.py src/slapkit/core/options.py tests/test_wrapper.py ...

Options: ``--only LINE[,LINE]`` mutates those lines alone; ``--timeout S``
per test run (default 600). Not run by CI: a tool, like the benchmarks.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_SWAPPED_COMPARISONS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}


@dataclass
class Mutant:
    line: int
    what: str
    tree: ast.Module


def _mutations(node: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    """(description, replacement) for each way ``node`` itself can be mutated."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        swapped = _SWAPPED_COMPARISONS.get(type(node.ops[0]))
        if swapped is not None:
            new = copy.copy(node)
            new.ops = [swapped()]
            yield f"{type(node.ops[0]).__name__} -> {swapped.__name__}", new
    elif isinstance(node, ast.BoolOp):
        new_bool = copy.copy(node)
        new_bool.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield f"{type(node.op).__name__} -> {type(new_bool.op).__name__}", new_bool
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "not removed", node.operand
    elif isinstance(node, ast.Constant) and type(node.value) is bool:
        yield f"{node.value} -> {not node.value}", ast.Constant(not node.value)
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        yield f"{node.value} -> {node.value + 1}", ast.Constant(node.value + 1)
    elif isinstance(node, (ast.If, ast.While)):
        new_if = copy.copy(node)
        new_if.test = ast.UnaryOp(ast.Not(), node.test)
        yield f"{type(node).__name__.lower()} condition negated", new_if


def _targets(tree: ast.Module) -> list[ast.AST]:
    """Every node of ``tree`` but docstrings, in a fixed order."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return [node for node in ast.walk(tree) if id(node) not in docstrings]


def mutants(source: str, only: set[int] | None) -> Iterator[Mutant]:
    tree = ast.parse(source)
    for index, node in enumerate(_targets(tree)):
        line = getattr(node, "lineno", 0)
        if only is not None and line not in only:
            continue
        for what, replacement in _mutations(node):
            mutated = copy.deepcopy(tree)
            _replace(mutated, _targets(mutated)[index], replacement)
            yield Mutant(line, what, ast.fix_missing_locations(mutated))


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, copy.deepcopy(new))
                return
            if isinstance(value, list):
                for position, item in enumerate(value):
                    if item is old:
                        value[position] = copy.deepcopy(new)
                        return
    raise LookupError("node not found")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("module", type=Path)
    parser.add_argument("tests", nargs="+")
    parser.add_argument("--only", default="")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    module = args.module.resolve()
    relative = module.relative_to(ROOT / "src")
    only = {int(n) for n in args.only.split(",") if n} or None
    source = module.read_text()
    copy_root = Path(tempfile.mkdtemp(prefix="slapkit-mutate-"))
    try:
        # Without the egg-info a develop install may have left there: put
        # first on sys.path, its stale entry points would be the ones used.
        shutil.copytree(
            ROOT / "src",
            copy_root / "src",
            ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"),
        )
        target = copy_root / "src" / relative
        env = {**os.environ, "PYTHONPATH": str(copy_root / "src")}
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-x",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "not slapgrid",
        ]
        baseline = subprocess.run(
            [*command, *args.tests], cwd=ROOT, env=env, capture_output=True, timeout=args.timeout
        )
        if baseline.returncode != 0:  # every mutant would look killed
            print(baseline.stdout.decode(errors="replace")[-3000:])
            print("the tests fail on the unmutated copy: no mutation run", file=sys.stderr)
            return 2
        killed, survivors = 0, []
        for mutant in mutants(source, only):
            target.write_text(ast.unparse(mutant.tree) + "\n")
            try:
                result = subprocess.run(
                    [*command, *args.tests],
                    cwd=ROOT,
                    env=env,
                    capture_output=True,
                    timeout=args.timeout,
                )
                survived = result.returncode == 0
            except subprocess.TimeoutExpired:
                survived = False  # a hang is noticed
            if survived:
                survivors.append(mutant)
                print(f"SURVIVED {relative}:{mutant.line}: {mutant.what}", flush=True)
            else:
                killed += 1
                print(f"killed   {relative}:{mutant.line}: {mutant.what}", flush=True)
        total = killed + len(survivors)
        score = 100.0 * killed / total if total else 100.0
        print(f"{relative}: {killed} of {total} mutants killed ({score:.1f} %)")
        return 1 if survivors else 0
    finally:
        shutil.rmtree(copy_root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
