#!/usr/bin/env bash
# Commit each finished reproduction record as soon as it exists: every INTERVAL seconds (300),
# the runner's records under benchmarks/results/*-reproduce-*/ (runs.csv, grid.json, epochs/,
# ranks/, report.md, plots) are committed if they changed, and nothing else. In-flight
# checkpoints and resume states (saved/) are never committed here: they change every epoch. A
# session that must stop mid-run commits them once, by hand (git add -f), and the runner deletes
# them when the run ends; that deletion is committed here. A file over MAX_BYTES (1 MB) is left
# uncommitted, with a line saying so: a session's commits have a size limit, and a submission
# over it is refused whole, records and code alike. Run it beside the runner:
#   bash benchmarks/commit_results.sh &
set -u
cd "$(dirname "$0")/.."
interval="${INTERVAL:-300}"
max_bytes="${MAX_BYTES:-1048576}"
while true; do
  changed=""
  for path in $(git ls-files --others --modified --exclude-standard -- 'benchmarks/results/*-reproduce-*' | grep -v -e '/saved/' -e '/claims/'); do
    if [ -f "$path" ] && [ "$(stat -c %s "$path")" -gt "$max_bytes" ]; then
      echo "$(date -u +%FT%TZ) left uncommitted (over $max_bytes bytes): $path"
    else
      changed=$(printf '%s\n%s' "$changed" "$path")
    fi
  done
  changed=$(echo "$changed" | grep -v '^$')
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
