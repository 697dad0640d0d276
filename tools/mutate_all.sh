#!/usr/bin/env bash
# The whole mutation run of docs/mutation.md: every module of core/ and
# recipes/ against its own test files, the tests chosen per mutant from one
# coverage run. A tool, not CI: about an hour on two cores.
#   tools/mutate_all.sh [OUTDIR]   (default: mutation-run/, one log per module)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-mutation-run}
mkdir -p "$out"
python=.venv/bin/python
data="$out/contexts.data"
jobs=${SLAPKIT_MUTATE_JOBS:-2}
[ -f "$data" ] || "$python" tools/mutate.py --collect "$data" tests/ > "$out/collect.log" 2>&1

own() {  # own MODULE -> its own test files
    case "$1" in
        # core/ is what every recipe shares: its own tests are the
        # cross-cutting files (units, buildout internals, fuzzing, error
        # paths, hostile input), not every recipe's.
        core/*) echo tests/test_units.py tests/test_buildout_internals.py tests/test_fuzz.py \
                     tests/test_error_paths.py tests/test_hostile.py ;;
        recipes/cron_calendar.py|recipes/cron_d.py) echo tests/test_cron_d.py ;;
        recipes/check_port_listening.py|recipes/check_url_available.py|recipes/promise.py)
            echo tests/test_promise.py tests/test_promise_parity.py ;;
        recipes/free_port.py|recipes/userinfo.py) echo tests/test_small_recipes.py ;;
        recipes/symbolic_link.py) echo tests/test_symbolic_link.py tests/test_small_recipes.py ;;
        recipes/slapconfiguration.py|recipes/slapconfiguration_jsonschema.py)
            echo tests/test_slapconfiguration.py ;;
        recipes/template.py) echo tests/test_template.py tests/test_template_compat.py ;;
        recipes/wrapper.py|recipes/wrapper_exec.py)
            echo tests/test_wrapper.py tests/test_wrapper_options.py tests/test_wrapper_supervisord.py ;;
        recipes/*) echo "tests/test_$(basename "$1")" ;;
    esac
}

for module in src/slapkit/core/*.py src/slapkit/recipes/*.py; do
    relative=${module#src/slapkit/}
    case "$relative" in */__init__.py) continue ;; esac
    log="$out/$(echo "$relative" | tr / _).log"
    [ -f "$log" ] && grep -q "mutants killed" "$log" && continue
    # shellcheck disable=SC2046
    "$python" tools/mutate.py --contexts "$data" --jobs "$jobs" "$module" $(own "$relative") > "$log" 2>&1
    tail -1 "$log"
done
grep -h "mutants killed" "$out"/*.log
