#!/usr/bin/env bash
# store_guard_test.sh — the store's guards against an operator's bad day,
# checked with real processes: a deleted LOCK file, store tools run on the
# wrong directory or beside a running writer.
#
#   SX=path/to/sx tests/acceptance/store_guard_test.sh
#
# Prints one line per check and "N passed, N failed" at the end; exit 0 only
# when nothing failed.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SX=${SX:-$ROOT/build/sx}
if [ ! -x "$SX" ]; then
  echo "store_guard_test: no sx binary at $SX (build it, or set SX)" >&2
  exit 2
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sx-guard.XXXXXX")
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# shellcheck source=scripts/checks.sh
. "$ROOT/scripts/checks.sh"

LINEBUF=()
if command -v stdbuf >/dev/null 2>&1; then LINEBUF=(stdbuf -oL); fi

# A writer that appends with append-next until killed, printing each seq the
# store acknowledged ("ack N ." so that a line cut by the kill never counts).
WRITER='
(define (op name &rest args) (perform {:op name :args args}))
(let loop ((i 0))
  (when (< i 100000000)
    (println "ack" (get (op "persist/append-next" "s" "t" i {:pad "0123456789abcdef0123456789abcdef"}) :seq) ".")
    (loop (+ i 1))))'

# wait_for FILE PATTERN — up to 10 s for a line matching PATTERN in FILE.
wait_for() {
  for _ in $(seq 1 200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# acked FILE — the acknowledged seqs in FILE, one a line.
acked() { awk '/^ack [0-9]+ \.$/ { print $2 }' "$1"; }

segments() { ls "$1" | grep -c '\.seg$'; }

# --- 1. a deleted LOCK does not let a second writer in -------------------------------------
D=$WORK/lock
CHECK="with LOCK deleted while a writer runs, a second writer is refused"
export SX_PERSIST_SEGMENT_BYTES=65536  # rolls every few hundred appends
"${LINEBUF[@]}" "$SX" --data-dir "$D" -e "$WRITER" >"$WORK/w1.out" 2>"$WORK/w1.err" &
W1=$!
PIDS+=("$W1")
wait_for "$WORK/w1.out" '^ack 50 \.$' || bad "the first writer started" "$(cat "$WORK/w1.err")"
rm -f "$D/LOCK"
"${LINEBUF[@]}" "$SX" --data-dir "$D" -e "$WRITER" >"$WORK/w2.out" 2>"$WORK/w2.err" &
W2=$!
PIDS+=("$W2")
sleep 1
kill -9 "$W2" 2>/dev/null
wait "$W2" 2>/dev/null
rc2=$?
if [ "$rc2" -eq 1 ] && grep -q "store is locked" "$WORK/w2.err" && [ -z "$(acked "$WORK/w2.out")" ]; then
  ok "$CHECK"
else
  bad "$CHECK" "second writer: exit $rc2, $(acked "$WORK/w2.out" | wc -l) acks" "stderr: $(head -c 300 "$WORK/w2.err")"
fi

CHECK="the first writer puts its LOCK back at its next segment roll"
segs=$(segments "$D")
for _ in $(seq 1 200); do
  [ "$(segments "$D")" -gt "$segs" ] && break
  sleep 0.05
done
sleep 0.2
if [ "$(segments "$D")" -gt "$segs" ] && [ "$(tr -d '\n' <"$D/LOCK" 2>/dev/null)" = "$W1" ]; then
  ok "$CHECK"
else
  bad "$CHECK" "segments $segs -> $(segments "$D"), LOCK: $(cat "$D/LOCK" 2>&1)"
fi
kill -9 "$W1" 2>/dev/null
wait "$W1" 2>/dev/null
unset SX_PERSIST_SEGMENT_BYTES

CHECK="no seq was acknowledged twice and every acknowledged one is stored once"
stored=$("$SX" --data-dir "$D" -e '(for-each (fn (e) (println (get e :seq))) (perform {:op "persist/read" :args (list "s")}))' 2>"$WORK/r.err")
dups=$(cat <(acked "$WORK/w1.out") <(acked "$WORK/w2.out") | sort -n | uniq -d | wc -l)
sdups=$(echo "$stored" | sort -n | uniq -d | wc -l)
missing=$(comm -23 <(cat <(acked "$WORK/w1.out") <(acked "$WORK/w2.out") | sort) <(echo "$stored" | sort) | wc -l)
if [ "$dups" -eq 0 ] && [ "$sdups" -eq 0 ] && [ "$missing" -eq 0 ] && [ -n "$stored" ]; then
  ok "$CHECK ($(acked "$WORK/w1.out" | wc -l) acks)"
else
  bad "$CHECK" "acked twice: $dups, stored twice: $sdups, acked but missing: $missing" "$(cat "$WORK/r.err")"
fi

summary
