#!/usr/bin/env bash
# The main job on a fresh machine: deploy an example instance profile into
# ./partition, the way slapgrid would, and show what happened.
#   tools/deploy-example.sh [EXAMPLE]   (default: directories)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/venv.sh .venv
example=${1:-directories}
partition=${SLAPKIT_PARTITION:-partition}
mkdir -p "$partition"
cp "examples/$example/instance.cfg" "$partition/buildout.cfg"
cd "$partition"
../.venv/bin/buildout -U -c buildout.cfg buildout:offline=true
echo "== deployed examples/$example into $partition; running it again changes nothing:"
../.venv/bin/buildout -U -c buildout.cfg buildout:offline=true
