#!/usr/bin/env bash
# The test command:
#   1. lint, types and packaging: ruff (lint, format), mypy (strict on core/,
#      the recipes and the migration), the sdist and wheel built and passed
#      by twine check;
#   2. the whole suite on today's zc.buildout (Python 3.12), under coverage
#      (branches; forked buildouts and subprocesses included), whose report
#      is printed, not asserted;
#   3. the suite again on what SlapOS software releases pin (zc.buildout
#      3.0.1, setuptools 67.8, Python 3.11) when that Python is on the
#      machine; each recipe's own tests with SLAPKIT_TEST_FORK=0 (every
#      buildout in a new process, so the forking harness, whose imports are
#      warm, hides no import-time failure), the others forked as usual;
#   4. the tests marked `slapgrid` under slapos.core's real slapgrid
#      (tools/slapgrid-test.sh).
# Arguments go to pytest, e.g. tools/test.sh -k wrapper -x; with arguments
# only stage 2 runs, without coverage. SLAPKIT_SKIP_OLDEST=1 and
# SLAPKIT_SKIP_SLAPGRID=1 leave out those stages.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/venv.sh .venv
version() { "$1/bin/python" -c 'import importlib.metadata as m; print(m.version("zc.buildout"))'; }
if [ $# != 0 ]; then
    exec .venv/bin/python -m pytest -m "not slapgrid" "$@"
fi
echo "== lint and types: ruff, mypy"
.venv/bin/ruff check src tests benchmarks tools
.venv/bin/ruff format --check src tests benchmarks tools
.venv/bin/mypy
echo "== packaging: sdist and wheel build, twine check"
dist=$(mktemp -d)
.venv/bin/python -m build --no-isolation --outdir "$dist" . > "$dist/build.log" 2>&1 \
    || { cat "$dist/build.log"; exit 1; }
.venv/bin/twine check --strict "$dist"/*.whl "$dist"/*.tar.gz
rm -rf "$dist"
echo "== zc.buildout $(version .venv), $(.venv/bin/python --version), under coverage"
rm -f .coverage .coverage.*
.venv/bin/python -m coverage run -m pytest -m "not slapgrid"
.venv/bin/python -m coverage combine -q
.venv/bin/python -m coverage report
if [ "${SLAPKIT_SKIP_OLDEST:-}" != 1 ]; then
    if SLAPKIT_OLDEST=1 bash tools/venv.sh .venv-oldest python3.11; then
        echo "== zc.buildout $(version .venv-oldest) + setuptools 67.8, $(.venv-oldest/bin/python --version)"
        # Each recipe's own tests in new processes; the rest (hostile
        # input, error paths, fuzz, crash, runner, corpus...) forked.
        fresh=(tests/test_buildout_internals.py tests/test_extension.py
               tests/test_mkdirectory.py tests/test_parameters.py tests/test_password.py
               tests/test_plain_template.py tests/test_promise.py tests/test_promise_plugin.py
               tests/test_publish.py tests/test_publish_early.py
               tests/test_slapconfiguration.py tests/test_small_recipes.py
               tests/test_switch_softwaretype.py tests/test_template.py
               tests/test_template_cache.py tests/test_wrapper.py)
        forked=()
        for file in tests/test_*.py; do
            [[ " ${fresh[*]} " == *" $file "* ]] || forked+=("$file")
        done
        echo "-- each recipe's tests, every buildout in a new process (SLAPKIT_TEST_FORK=0)"
        SLAPKIT_TEST_FORK=0 .venv-oldest/bin/python -m pytest -m "not slapgrid" "${fresh[@]}"
        echo "-- the others (hostile input, errors, fuzz, crash, runner, corpus), forked"
        .venv-oldest/bin/python -m pytest -m "not slapgrid" "${forked[@]}"
    else
        echo "== no python3.11 here: the zc.buildout 3.0.1 run is skipped" >&2
    fi
fi
if [ "${SLAPKIT_SKIP_SLAPGRID:-}" != 1 ]; then
    echo "== slapos.core's StandaloneSlapOS: real master, real slapgrid (tools/slapgrid-test.sh)"
    bash tools/slapgrid-test.sh
fi
