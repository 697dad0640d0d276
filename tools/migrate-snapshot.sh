#!/usr/bin/env bash
# Run `slapkit migrate --check` over every instance profile of a snapshot of
# SlapOS's software repository, and print its totals (for the README).
#
#   bash tools/migrate-snapshot.sh GIT_DIR [REV]
#
# GIT_DIR: a clone of github.com/SlapOS/slapos, or the bare git directory the
# library's `fetch` gives. Not run by CI (it has no copy). The profiles are
# read out of git into a temporary directory; nothing is written back.
set -euo pipefail
cd "$(dirname "$0")/.."
git_dir=$1
rev=$(git --git-dir "$git_dir" rev-parse "${2:-HEAD}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git --git-dir "$git_dir" ls-tree -r --name-only "$rev" \
    | grep -E '^(software|stack)/.*/instance[^/]*\.cfg[^/]*$' > "$work/list"
total=0 missing=0
while read -r name; do
    mkdir -p "$work/tree/$(dirname "$name")"
    if git --git-dir "$git_dir" show "$rev:$name" > "$work/tree/$name" 2>/dev/null; then
        total=$((total + 1))
    else
        rm -f "$work/tree/$name"
        missing=$((missing + 1))
    fi
done < "$work/list"
cd "$work/tree"
set +e
mapfile -t profiles < <(find software stack -type f | sort)
"$OLDPWD/.venv/bin/slapkit" migrate --check "${profiles[@]}" > "$work/report"
status=$?
set -e
echo "SlapOS/slapos $rev: $total instance profiles ($missing absent from the snapshot)"
echo "slapkit migrate --check exit status: $status (1: a profile would change, 2: an error)"
tail -1 "$work/report"
echo "profiles without any finding: $(grep -c ', clean$' "$work/report")"
echo "findings by kind:"
grep -oE '^  [^ ]+:[0-9]+: \[[^]]*\] [a-z ]+:' "$work/report" \
    | sed -E 's/.*\] ([a-z ]+):$/\1/' | sort | uniq -c | sort -rn
echo "recipes not covered, by recipe lines:"
grep -oE '\] not covered: [^ ]+:?' "$work/report" | sed -E 's/\] not covered: //; s/:$//' \
    | sort | uniq -c | sort -rn | head -15
