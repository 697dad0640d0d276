#!/usr/bin/env bash
# Run the tests marked `slapgrid` (slapos.core's StandaloneSlapOS: a real
# master, real slapgrid, real supervisord) on Python 3.12+.
#
# slapgrid refuses to run as root. Run as root (as CI does), this script
# makes an unprivileged user `slapkit-ci`, copies Python 3.12 out of root's
# home (pyenv's builds live there, where other users cannot go) to
# /opt/slapkit-slapgrid/python with its lib/ registered to the dynamic
# linker (so every process slapgrid starts finds libpython with no
# environment variable), makes a venv there with slapos.core (plus
# slapos.libnetworkcache, which `slapos proxy` imports without declaring),
# supervisor, setuptools<82 and slapkit from this tree, and runs pytest as
# that user. Run as another user, it uses .venv-slapgrid here instead.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=$(pwd)

find_python312() {
    local candidate
    for candidate in python3.13 python3.12; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c pass 2>/dev/null; then
            command -v "$candidate"; return
        fi
    done
    # pyenv's builds, also when pyenv itself is not on PATH (a bare CI shell).
    local root
    root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
    ls -d "$root"/versions/3.12.*/bin/python3.12 2>/dev/null | sort -V | tail -1 || true
}
python=$(find_python312)
if [ -z "$python" ]; then
    echo "slapgrid tests skipped: no Python 3.12 here (slapgrid needs 3.12+)" >&2
    exit 0
fi
packages=(slapos.core slapos.libnetworkcache supervisor "setuptools<82" "zc.buildout>=3.0.1"
          pytest "$tree/build-slapgrid/src[hashes,schema]")

if [ "$(id -u)" != 0 ]; then
    venv=$tree/.venv-slapgrid
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    rm -rf build-slapgrid && mkdir -p build-slapgrid/src
    cp -r src setup.py pyproject.toml README.rst build-slapgrid/src/
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "${packages[@]}"
    PATH="$venv/bin:$PATH" exec "$venv/bin/python" -m pytest -m slapgrid -p no:cacheprovider tests/test_slapgrid.py "$@"
fi

user=slapkit-ci
base=/opt/slapkit-slapgrid
id -u "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
mkdir -p "$base"
prefix=$(cd "$(dirname "$python")/.." && pwd)
case "$prefix" in
    /root/*|/root)
        if [ ! -x "$base/python/bin/python3.12" ]; then
            rm -rf "$base/python.tmp"
            cp -a "$prefix" "$base/python.tmp"
            mv "$base/python.tmp" "$base/python"
        fi
        echo "$base/python/lib" > /etc/ld.so.conf.d/slapkit-python.conf
        ldconfig
        python=$base/python/bin/python3.12;;
esac
# The tree, readable by the user, and the venv, owned by the user.
work=$base/work
rm -rf "$work"
mkdir -p "$work/build-slapgrid/src"
cp -r "$tree/src" "$tree/setup.py" "$tree/pyproject.toml" "$tree/README.rst" "$work/build-slapgrid/src/"
cp -r "$tree/tests" "$tree/examples" "$tree/tox.ini" "$work/"
chown -R "$user:" "$base"
packages=("${packages[@]/#$tree/$work}")
run_as() { runuser -u "$user" -- env -i HOME="/home/$user" USER="$user" LOGNAME="$user" \
    PATH="$base/venv/bin:/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 "$@"; }
[ -x "$base/venv/bin/python" ] || run_as "$python" -m venv "$base/venv"
run_as "$base/venv/bin/python" -m pip install -q --disable-pip-version-check "${packages[@]}"
cd "$work"
run_as "$base/venv/bin/python" -m pytest -m slapgrid -p no:cacheprovider tests/test_slapgrid.py "$@"
