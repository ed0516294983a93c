#!/bin/sh
# run.sh — projection replay after a restart: full vs snapshot + tail.
#
#   bench/persist/run.sh [EVENTS [EVERY [TAIL]]]      (default 1000000 10000 2500)
#
# Builds the stream once (sync mode batch), then runs the tail replay and the
# full replay each in a new process over the same store — a restart — and
# prints records read, wall time and the tail/full ratios. Uses $SX
# (default build/sx) and a temporary data directory it removes afterwards.
set -eu
SX=${SX:-build/sx}
BENCH=$(dirname "$0")/project_bench.sx
dir=$(mktemp -d "${TMPDIR:-/tmp}/sx-project-bench-XXXXXX")
trap 'rm -rf "$dir"' EXIT
run() {  # run MODE ARGS... -> prints the script's line, sets $secs and $reads
  start=$(date +%s.%N)
  out=$("$SX" --sync batch --data-dir "$dir/data" "$BENCH" "$@")
  end=$(date +%s.%N)
  secs=$(echo "$end - $start" | bc -l)
  reads=$(echo "$out" | sed -n 's/.*, read \([0-9]*\);.*/\1/p')
  events=$(echo "$out" | sed -n 's/.*events read \([0-9]*\);.*/\1/p')
  echo "$out"
  printf '  wall %.3f s\n' "$secs"
}
echo "sx: $SX"
run build "$@"
run tail; tail_secs=$secs; tail_reads=$reads; tail_events=$events
run full; full_secs=$secs; full_reads=$reads; full_events=$events
printf 'tail/full events read: %s / %s = %.5f\n' "$tail_events" "$full_events" \
  "$(echo "$tail_events / $full_events" | bc -l)"
printf 'tail/full records-read: %s / %s = %.5f\n' "$tail_reads" "$full_reads" \
  "$(echo "$tail_reads / $full_reads" | bc -l)"
printf 'tail/full wall time (process incl. startup): %.3f / %.3f = %.4f\n' "$tail_secs" "$full_secs" \
  "$(echo "$tail_secs / $full_secs" | bc -l)"
