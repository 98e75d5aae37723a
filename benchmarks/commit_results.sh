#!/usr/bin/env bash
# Commit each finished reproduction record as soon as it exists: every INTERVAL seconds (300),
# the runner's records under benchmarks/results/*-reproduce-*/ (runs.csv, grid.json, epochs/,
# ranks/, report.md, plots) are committed if they changed, and nothing else. In-flight
# checkpoints and resume states (saved/) are never committed here: they change every epoch. A
# session that must stop mid-run commits them once, by hand (git add -f), and the runner deletes
# them when the run ends; that deletion is committed here. Run it beside the runner:
#   bash benchmarks/commit_results.sh &
set -u
cd "$(dirname "$0")/.."
interval="${INTERVAL:-300}"
while true; do
  changed=$(git ls-files --others --modified --exclude-standard -- 'benchmarks/results/*-reproduce-*' | grep -v -e '/saved/' -e '/claims/')
  deleted=$(git ls-files --deleted -- 'benchmarks/results/*-reproduce-*')
  paths=$(printf '%s\n%s\n' "$changed" "$deleted" | sort -u | grep -v '^$')
  if [ -n "$paths" ]; then
    # Deletions are staged with git rm: git add refuses a path under an ignored folder (saved/)
    # even when the path is tracked and gone, and that failure stopped every later commit.
    # shellcheck disable=SC2086
    { [ -z "$changed" ] || git add -- $changed; } \
      && { [ -z "$deleted" ] || git rm -q --cached --ignore-unmatch -- $deleted; } \
      && git commit -q -m "Reproduction records: $(echo "$paths" | wc -l) file(s) as the runs left them" -- $paths \
      && echo "$(date -u +%FT%TZ) committed: $(echo "$paths" | wc -l) file(s)"
  fi
  sleep "$interval"
done
