#!/usr/bin/env bash
# The test command: the whole suite on today's zc.buildout (Python 3.12),
# then on what SlapOS software releases pin (zc.buildout 3.0.1, setuptools
# 67.8, Python 3.11) when that Python is on the machine.
# Arguments go to pytest, e.g. tools/test.sh -k wrapper -x
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/venv.sh .venv
echo "== zc.buildout $(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("zc.buildout"))'), $(.venv/bin/python --version)"
.venv/bin/python -m pytest "$@"
if [ "${SLAPKIT_SKIP_OLDEST:-}" != 1 ]; then
    if SLAPKIT_OLDEST=1 bash tools/venv.sh .venv-oldest python3.11; then
        echo "== zc.buildout 3.0.1 + setuptools 67.8, $(.venv-oldest/bin/python --version)"
        .venv-oldest/bin/python -m pytest -m "not slapgrid" "$@"
    else
        echo "== no python3.11 here: the zc.buildout 3.0.1 run is skipped" >&2
    fi
fi
