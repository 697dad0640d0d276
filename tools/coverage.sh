#!/usr/bin/env bash
# The suite on today's zc.buildout under coverage (branches; the buildouts it
# forks and the processes it starts -- slapkit deploy, buildout, promises --
# measured too), its files shared among pytest-xdist workers; prints the
# report, asserts nothing. A tool, not CI (it triples the suite's time).
#   tools/coverage.sh [PYTEST ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/venv.sh .venv
workers=$(nproc 2>/dev/null || echo 2)
[ "$workers" -le 4 ] || workers=4
rm -f .coverage .coverage.*
status=0
.venv/bin/python -m coverage run -m pytest -p no:cacheprovider -m "not slapgrid" \
    -n "$workers" --dist loadfile --basetemp="$(mktemp -d)/t" "${@:-tests/}" || status=$?
.venv/bin/python -m coverage combine -q
.venv/bin/python -m coverage report
exit "$status"
