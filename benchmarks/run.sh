#!/usr/bin/env bash
# Benchmark slapkit against slapos.cookbook + slapos.recipe.template and a
# do-nothing recipe, on the same generated profiles, in one run.
#   bash benchmarks/run.sh [--sizes 10 100 300] [--first-runs 3] [--reruns 5]
# Makes benchmarks/.venv (Python 3.12 when there) with slapkit installed as a
# regular package, as in a software release (not editable).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=benchmarks/.venv
if [ ! -x "$venv/bin/buildout" ] || [ pyproject.toml -nt "$venv/.stamp" ] || [ -n "$(find src -newer "$venv/.stamp" -name '*.py' | head -1)" ]; then
    python=$(ls -d "$(pyenv root 2>/dev/null)"/versions/3.12.*/bin/python3.12 2>/dev/null | tail -1 || true)
    [ -n "$python" ] || python=python3
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        . ./benchmarks/floor slapos.cookbook slapos.recipe.template
    touch "$venv/.stamp"
fi
exec "$venv/bin/python" benchmarks/bench.py "$@"
