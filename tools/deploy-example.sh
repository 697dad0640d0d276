#!/usr/bin/env bash
# The main job on a fresh machine: deploy examples/hello-web into ./partition
# with the local runner, as slapgrid would, and print what happened, its URL
# included. Arguments go to `slapkit deploy` (e.g. -p port=8081).
# Running it again with the same input changes nothing.
# Stop the instance with: .venv/bin/slapkit stop partition
set -euo pipefail
cd "$(dirname "$0")/.."
# Only what the runner needs (zc.buildout, supervisor, Jinja2); the tests'
# toolchain is added by the README's test command.
SLAPKIT_EXTRAS=runner bash tools/venv.sh .venv
exec .venv/bin/slapkit deploy examples/hello-web/instance.cfg --partition partition "$@"
