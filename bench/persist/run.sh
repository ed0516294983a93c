#!/bin/sh
# run.sh — projection replay after a restart, against Python 3 folding the
# same events from SQLite with json.loads per row.
#
#   bench/persist/run.sh [SIZE...]            (default: 100000 1000000 3000000)
#
# 10000000 works too (the peak memory should stay flat: the store's index
# holds a run per 16 KiB of log, not an entry per event); it needs about
# 3 GB free under $TMPDIR for the store and the SQLite file, removed after.
#
# For each SIZE, builds a stream of SIZE events plus TAIL more (default 2500)
# with a snapshot every EVERY events (default 10000) — sync mode batch — and
# the same events as JSON rows of one SQLite table (sqlite_fold.py). Then
# RUNS rounds (default 3), each running in a new process, over the same
# data (a restart):
#   full     sx: persist/project from the first event
#   python   Python 3 + sqlite3 + json.loads folding the same events
#   tail     sx: persist/replay, the last snapshot + the tail
#   open     sx: opening the store and one op, nothing read (the floor)
# and prints the medians of wall time and peak memory (max RSS, per
# process), the ratio full / python in the same round, and tail / full. One
# round runs every program once, so load that comes and goes lands on both
# sides of a ratio. Uses $SX (default build/sx) and $PYTHON (default the
# python3 on the PATH), and temporary directories it removes afterwards.
set -eu
SX=${SX:-build/sx}
RUNS=${RUNS:-3}
EVERY=${EVERY:-10000}
TAIL=${TAIL:-2500}
here=$(cd "$(dirname "$0")" && pwd)
# The interpreter itself, not a version manager's launcher in front of it.
PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}
[ $# -gt 0 ] || set -- 100000 1000000 3000000
work=$(mktemp -d "${TMPDIR:-/tmp}/sx-project-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT

# measure NAME CMD... — runs CMD once; appends "wall peak_kb" to $work/NAME
# and keeps its output in $work/NAME.out.
measure() {
  name=$1
  shift
  "$PYTHON" "$here/measure.py" "$@" >"$work/$name.out"
  tail -n 1 "$work/$name.out" | awk '{print $2, $4}' >>"$work/$name"
}
median() { sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}'; }
col() { awk -v c="$2" '{print $c}' "$work/$1"; }

echo "sx: $SX   python: $PYTHON ($("$PYTHON" --version 2>&1))   rounds: $RUNS"
printf '%10s  %20s  %20s  %8s  %20s  %20s\n' events "sx full s (peak MB)" "python s (peak MB)" \
  sx/py "sx tail s (peak MB)" "sx open s (peak MB)"
for size in "$@"; do
  data=$work/data-$size
  db=$work/events-$size.db
  "$SX" --sync batch --data-dir "$data" "$here/project_bench.sx" build "$size" "$EVERY" "$TAIL" >/dev/null
  "$PYTHON" "$here/sqlite_fold.py" build "$db" $((size + TAIL))
  rm -f "$work/full" "$work/python" "$work/tail" "$work/open" "$work/ratio"
  for _ in $(seq "$RUNS"); do
    measure full "$SX" --data-dir "$data" "$here/project_bench.sx" full
    measure python "$PYTHON" "$here/sqlite_fold.py" fold "$db"
    measure tail "$SX" --data-dir "$data" "$here/project_bench.sx" tail
    measure open "$SX" --data-dir "$data" -e '(perform {:op "persist/last-seq" :args (list "bench/orders")})'
    paste "$work/full" "$work/python" | tail -n 1 | awk '{print $1 / $3}' >>"$work/ratio"
  done
  # Both folded the same events to the same totals.
  sx_says=$(sed -n 's/.*folded through seq \([0-9]*\), value {:cents \([0-9]*\) :count \([0-9]*\)}.*/\1 \3 \2/p' "$work/full.out")
  py_says=$(sed -n 's/folded through seq \([0-9]*\), count \([0-9]*\), cents \([0-9]*\)/\1 \2 \3/p' "$work/python.out")
  if [ "$sx_says" != "$py_says" ]; then
    echo "run.sh: sx and python disagree: sx \"$sx_says\", python \"$py_says\"" >&2
    exit 1
  fi
  tail_events=$(sed -n 's/.*events read \([0-9]*\);.*/\1/p' "$work/tail.out")
  mb() { col "$1" 2 | median | awk '{printf "%.1f", $1 / 1024}'; }
  printf '%10s  %11s (%6s)  %11s (%6s)  %8s  %11s (%6s)  %11s (%6s)\n' $((size + TAIL)) \
    "$(col full 1 | median)" "$(mb full)" "$(col python 1 | median)" "$(mb python)" \
    "$(median <"$work/ratio")" "$(col tail 1 | median)" "$(mb tail)" \
    "$(col open 1 | median)" "$(mb open)"
  echo "            tail replay read $tail_events events; tail/full wall $(paste "$work/tail" "$work/full" | awk '{print $1 / $3}' | median)"
  rm -rf "$data" "$db"
done
