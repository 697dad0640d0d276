#!/usr/bin/env bash
# The test command: the whole suite on today's zc.buildout (Python 3.12),
# then on what SlapOS software releases pin (zc.buildout 3.0.1, setuptools
# 67.8, Python 3.11) when that Python is on the machine, then the tests
# marked `slapgrid` under slapos.core's real slapgrid (tools/slapgrid-test.sh).
# Arguments go to pytest, e.g. tools/test.sh -k wrapper -x; with arguments
# the slapgrid stage is left out. SLAPKIT_SKIP_OLDEST=1 and
# SLAPKIT_SKIP_SLAPGRID=1 leave out those stages.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/venv.sh .venv
echo "== zc.buildout $(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("zc.buildout"))'), $(.venv/bin/python --version)"
.venv/bin/python -m pytest -m "not slapgrid" "$@"
if [ "${SLAPKIT_SKIP_OLDEST:-}" != 1 ]; then
    if SLAPKIT_OLDEST=1 bash tools/venv.sh .venv-oldest python3.11; then
        echo "== zc.buildout 3.0.1 + setuptools 67.8, $(.venv-oldest/bin/python --version)"
        .venv-oldest/bin/python -m pytest -m "not slapgrid" "$@"
    else
        echo "== no python3.11 here: the zc.buildout 3.0.1 run is skipped" >&2
    fi
fi
if [ $# = 0 ] && [ "${SLAPKIT_SKIP_SLAPGRID:-}" != 1 ]; then
    echo "== slapos.core's StandaloneSlapOS: real master, real slapgrid (tools/slapgrid-test.sh)"
    bash tools/slapgrid-test.sh
fi
