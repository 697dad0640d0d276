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
per test run (default 600); ``--jobs N`` tries N mutants at once.

With ``--contexts DATA``, each mutant is tried only against the tests of
TESTS that run its line (a survivor no test reaches is printed as such),
which makes a whole module a matter of minutes. DATA is made once by

    .venv/bin/python tools/mutate.py --collect DATA tests/

which runs those tests under coverage with each line labelled by the test
that ran it, in the test process and in the buildouts it forks or starts.
Not run by CI: a tool, like the benchmarks.
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
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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
    lines: range  # the source lines the change is on, for choosing tests


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
        changed = node.test if isinstance(node, (ast.If, ast.While)) else node
        lines = range(line, (getattr(changed, "end_lineno", None) or line) + 1)
        for what, replacement in _mutations(node):
            mutated = copy.deepcopy(tree)
            _replace(mutated, _targets(mutated)[index], replacement)
            yield Mutant(line, what, ast.fix_missing_locations(mutated), lines)


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


PYTEST = ["-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slapgrid"]


def _copy_source(root: Path) -> Path:
    # Without the egg-info a develop install may have left there: put first
    # on sys.path, its stale entry points would be the ones used.
    shutil.copytree(
        ROOT / "src", root / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
    )
    return root / "src"


def collect(data: Path, tests: list[str], timeout: float) -> int:
    """Run ``tests`` under coverage, each line labelled with the tests that ran it."""
    with tempfile.TemporaryDirectory(prefix="slapkit-mutate-") as scratch:
        source = _copy_source(Path(scratch))
        env = {
            **os.environ,
            "PYTHONPATH": str(source),
            "SLAPKIT_MUTATE_COLLECT": "1",
            "COVERAGE_FILE": str(data.resolve()),
        }
        # Every test, not only up to the first failure.
        pytest = [word for word in PYTEST if word != "-x"]
        command = [sys.executable, "-m", "coverage", "run", *pytest, *tests]
        run = subprocess.run(command, cwd=ROOT, env=env, timeout=timeout)
        subprocess.run(
            [sys.executable, "-m", "coverage", "combine", "-q", "--data-file", str(data)],
            cwd=ROOT,
            env=env,
            check=True,
        )
    return run.returncode


AT_IMPORT = "*"


def tests_by_line(data: Path, relative: Path) -> dict[int, set[str]]:
    """Line of the module -> node ids of the tests that ran it.

    A line run while no test was current (the module's top level, run when
    it is imported) is marked AT_IMPORT: every test may depend on it.
    """
    import coverage

    recorded = coverage.CoverageData(basename=str(data))
    recorded.read()
    suffix = "/" + relative.as_posix()
    by_line: dict[int, set[str]] = {}
    for measured in recorded.measured_files():
        if not measured.endswith(suffix):
            continue
        for line, contexts in recorded.contexts_by_lineno(measured).items():
            for context in contexts:
                tests = {part for part in context.split("|") if "::" in part}
                by_line.setdefault(line, set()).update(tests or {AT_IMPORT})
    return by_line


def _within(test_file: Path, chosen: list[Path]) -> bool:
    test_file = test_file.resolve()
    return any(test_file == c or c in test_file.parents for c in chosen)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("module", type=Path, nargs="?")
    parser.add_argument("tests", nargs="+")
    parser.add_argument("--only", default="")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--contexts", type=Path)
    parser.add_argument("--collect", type=Path)
    args = parser.parse_args(argv)
    if args.collect:
        tests = ([str(args.module)] if args.module else []) + args.tests
        return collect(args.collect, tests, timeout=4 * 3600)
    if args.module is None:
        parser.error("a module to mutate is needed")
    module = args.module.resolve()
    relative = module.relative_to(ROOT / "src")
    only = {int(n) for n in args.only.split(",") if n} or None
    source = module.read_text()
    by_line = tests_by_line(args.contexts, relative) if args.contexts else None
    chosen = [Path(t).resolve() for t in args.tests]
    scratch = Path(tempfile.mkdtemp(prefix="slapkit-mutate-"))
    copies: list[Path] = []
    lock = threading.Lock()
    try:
        command = [sys.executable, *PYTEST]
        baseline_source = _copy_source(scratch / "baseline")
        baseline = subprocess.run(
            [*command, *args.tests],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(baseline_source)},
            capture_output=True,
            timeout=args.timeout,
        )
        if baseline.returncode != 0:  # every mutant would look killed
            print(baseline.stdout.decode(errors="replace")[-3000:])
            print("the tests fail on the unmutated copy: no mutation run", file=sys.stderr)
            return 2
        copies.extend(_copy_source(scratch / f"worker{n}") for n in range(args.jobs))
        free = list(copies)

        def selected(mutant: Mutant) -> list[str]:
            if by_line is None:
                return list(args.tests)
            reached: set[str] = set()
            for line in mutant.lines:
                reached |= by_line.get(line, set())
            if AT_IMPORT in reached:
                return list(args.tests)
            return sorted(test for test in reached if _within(ROOT / test.split("::")[0], chosen))

        def attempt(mutant: Mutant) -> str:
            tests = selected(mutant)
            if not tests:
                return "UNREACHED"
            with lock:
                source_copy = free.pop()
            try:
                (source_copy / relative).write_text(ast.unparse(mutant.tree) + "\n")
                try:
                    result = subprocess.run(
                        [*command, *tests],
                        cwd=ROOT,
                        # A mutant the same size as the line it replaces, written
                        # within the second, would be taken for the cached bytecode.
                        env={
                            **os.environ,
                            "PYTHONPATH": str(source_copy),
                            "PYTHONDONTWRITEBYTECODE": "1",
                        },
                        capture_output=True,
                        timeout=args.timeout,
                    )
                    return "SURVIVED" if result.returncode == 0 else "killed  "
                except subprocess.TimeoutExpired:
                    return "killed  "  # a hang is noticed
                finally:
                    (source_copy / relative).write_text(source)
            finally:
                with lock:
                    free.append(source_copy)

        killed, survivors = 0, 0
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            everything = list(mutants(source, only))
            for mutant, verdict in zip(everything, pool.map(attempt, everything), strict=True):
                if verdict.startswith("killed"):
                    killed += 1
                else:
                    survivors += 1
                print(f"{verdict} {relative}:{mutant.line}: {mutant.what}", flush=True)
        total = killed + survivors
        score = 100.0 * killed / total if total else 100.0
        print(f"{relative}: {killed} of {total} mutants killed ({score:.1f} %)")
        return 1 if survivors else 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
