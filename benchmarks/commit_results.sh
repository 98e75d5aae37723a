#!/usr/bin/env bash
# Commit each finished reproduction record as soon as it exists: every INTERVAL seconds (300),
# the runner's records under benchmarks/results/*-reproduce-*/ (runs.csv, grid.json, epochs/,
# report.md, plots) are committed if they changed, and nothing else (in-flight checkpoints and
# claims are ignored by .gitignore). Run it beside `python -m recbole_hug.reproduce ...`:
#   bash benchmarks/commit_results.sh &
set -u
cd "$(dirname "$0")/.."
interval="${INTERVAL:-300}"
while true; do
  paths=$(git ls-files --others --modified --exclude-standard -- 'benchmarks/results/*-reproduce-*')
  if [ -n "$paths" ]; then
    # shellcheck disable=SC2086
    git add -- $paths && git commit -q -m "Reproduction records: $(echo "$paths" | wc -l) file(s) as the runs left them" -- $paths \
      && echo "$(date -u +%FT%TZ) committed: $(echo "$paths" | wc -l) file(s)"
  fi
  sleep "$interval"
done
