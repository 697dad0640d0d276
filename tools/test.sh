#!/usr/bin/env bash
# The test command:
#   1. lint, types and packaging: ruff (lint, format), mypy (strict, on all of
#      src/ and the fingerprint tool), the sdist and wheel built and passed
#      by twine check;
#   2. the whole suite on today's zc.buildout (Python 3.12), its files shared
#      among pytest-xdist workers (tools/coverage.sh runs it under coverage:
#      a tool, like the mutation runs, not CI: coverage triples its time);
#   3. the suite again on what SlapOS software releases pin (zc.buildout
#      3.0.1, setuptools 67.8, Python 3.11) when that Python is on the
#      machine; each recipe's own tests with SLAPKIT_TEST_FORK=0 (every
#      buildout in a new process, so the forking harness, whose imports are
#      warm, hides no import-time failure), the others forked as usual, at
#      once;
#   4. the tests marked `slapgrid` under slapos.core's real slapgrid
#      (tools/slapgrid-test.sh).
# Arguments go to pytest, e.g. tools/test.sh -k wrapper -x; with arguments
# only stage 2 runs, in one process. SLAPKIT_SKIP_OLDEST=1 and
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
# Two pytest processes at once (each test starts its own processes, so the
# machine's cores are used), each with its own temporary directory; their
# output is shown one after the other.
concurrently() {  # NAME "COMMAND" NAME "COMMAND"
    local logs status=0
    logs=$(mktemp -d)
    bash -c "$2" > "$logs/1" 2>&1 & local first=$!
    bash -c "$4" > "$logs/2" 2>&1 & local second=$!
    wait "$first" || status=1
    wait "$second" || status=1
    echo "-- $1"; cat "$logs/1"
    echo "-- $3"; cat "$logs/2"
    rm -rf "$logs"
    return "$status"
}
# pytest-xdist's workers, a file each at a time, as many as the machine has
# cores (at most 4: each test starts processes of its own).
workers=$(nproc 2>/dev/null || echo 2)
[ "$workers" -le 4 ] || workers=4
echo "== zc.buildout $(version .venv), $(.venv/bin/python --version), $workers workers"
.venv/bin/python -m pytest -p no:cacheprovider -m "not slapgrid" -n "$workers" --dist loadfile \
    --basetemp="$(mktemp -d)/t" tests/
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
               tests/test_wrapper.py
               tests/test_symbolic_link.py tests/test_cron_d.py)
        forked=()
        for file in tests/test_*.py; do
            [[ " ${fresh[*]} " == *" $file "* ]] || forked+=("$file")
        done
        oldest='.venv-oldest/bin/python -m pytest -p no:cacheprovider -m "not slapgrid"'
        concurrently "each recipe's tests, every buildout in a new process (SLAPKIT_TEST_FORK=0)" \
            "SLAPKIT_TEST_FORK=0 $oldest --basetemp=$(mktemp -d)/t ${fresh[*]}" \
            "the others (hostile input, errors, fuzz, crash, runner, corpus), forked" \
            "$oldest --basetemp=$(mktemp -d)/t ${forked[*]}"
    else
        echo "== no python3.11 here: the zc.buildout 3.0.1 run is skipped" >&2
    fi
fi
if [ "${SLAPKIT_SKIP_SLAPGRID:-}" != 1 ]; then
    echo "== slapos.core's StandaloneSlapOS: real master, real slapgrid (tools/slapgrid-test.sh)"
    bash tools/slapgrid-test.sh
fi
