#!/usr/bin/env bash
# Benchmark slapkit against slapos.cookbook + slapos.recipe.template and
# do-nothing recipes, on the same generated profiles, in one run, in two
# environments:
#   slim  benchmarks/.venv-slim: slapkit and the floors only
#   full  benchmarks/.venv-full: beside slapos.cookbook, slapos.recipe.template
#         and slapos.core, as a user migrating from the cookbook has it
#   bash benchmarks/run.sh [--sizes 100 300 1000] [--first-runs 3] [--reruns 5]
# slapkit is installed as a regular package, as in a software release (not
# editable); Python 3.12 when there.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(ls -d "$(pyenv root 2>/dev/null)"/versions/3.12.*/bin/python3.12 2>/dev/null | tail -1 || true)
[ -n "$python" ] || python=python3
make_venv() {  # DIR PACKAGE...
    local venv=$1; shift
    if [ ! -x "$venv/bin/buildout" ] || [ pyproject.toml -nt "$venv/.stamp" ] \
        || [ -n "$(find src benchmarks/floor benchmarks/floor-jinja2 -newer "$venv/.stamp" -name '*.py' | head -1)" ]; then
        rm -rf "$venv"
        "$python" -m venv "$venv"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@"
        touch "$venv/.stamp"
    fi
}
make_venv benchmarks/.venv-slim ".[all]" ./benchmarks/floor ./benchmarks/floor-jinja2
make_venv benchmarks/.venv-full ".[all]" ./benchmarks/floor ./benchmarks/floor-jinja2 slapos.cookbook \
    slapos.recipe.template slapos.core slapos.libnetworkcache
exec benchmarks/.venv-full/bin/python benchmarks/bench.py \
    --slim-python benchmarks/.venv-slim/bin/python "$@"
