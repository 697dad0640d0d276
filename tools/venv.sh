#!/usr/bin/env bash
# Create or refresh a virtualenv with slapkit installed (editable) and its test extras.
#   tools/venv.sh [DIR] [PYTHON]   (default: .venv, Python 3.12 when there)
#   SLAPKIT_EXTRAS=runner tools/venv.sh   only what the runner needs (the main
#     job's); the test extras, which include it, are added by a later call.
#   SLAPKIT_OLDEST=1 tools/venv.sh .venv-oldest python3.11
#     pins what SlapOS software releases use: zc.buildout 3.0.1, setuptools 67.8.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}
python=${2:-}

find_python() {  # find_python 3.12 -> a python3.12 executable, or nothing
    local want=$1 root
    if command -v "python$want" >/dev/null 2>&1 && "python$want" -c pass 2>/dev/null; then
        command -v "python$want"; return
    fi
    # pyenv's builds, also when pyenv itself is not on PATH (a bare CI shell).
    root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
    if [ -d "$root/versions" ]; then
        for candidate in $(ls -d "$root"/versions/"$want".* 2>/dev/null | sort -V -r); do
            if [ -x "$candidate/bin/python$want" ]; then echo "$candidate/bin/python$want"; return; fi
        done
    fi
}

if [ -z "$python" ]; then
    python=$(find_python 3.12)
    [ -n "$python" ] || python=python3
elif [[ "$python" =~ ^python(3\.[0-9]+)$ ]]; then
    found=$(find_python "${BASH_REMATCH[1]}")
    [ -n "$found" ] || { echo "tools/venv.sh: no $python on this machine" >&2; exit 3; }
    python=$found
fi

extras=${SLAPKIT_EXTRAS:-test}
stamp="$venv/.slapkit-installed"
# The stamp holds the extras installed; "test" includes "runner".
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && "$venv/bin/python" -c pass 2>/dev/null \
    && { grep -qx "$extras" "$stamp" || grep -qx test "$stamp"; }; then
    exit 0
fi
if "$venv/bin/python" -c pass 2>/dev/null; then
    echo "tools/venv.sh: installing slapkit[$extras] into $venv" >&2
else
    echo "tools/venv.sh: making $venv with $("$python" --version 2>&1)" >&2
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
if [ "${SLAPKIT_OLDEST:-}" = 1 ]; then
    "${pip[@]}" "zc.buildout==3.0.1" "setuptools==67.8.0"
    "${pip[@]}" --no-build-isolation -e ".[$extras]" "zc.buildout==3.0.1" "setuptools==67.8.0"
else
    "${pip[@]}" --upgrade pip
    "${pip[@]}" -e ".[$extras]"
fi
echo "$extras" > "$stamp"
