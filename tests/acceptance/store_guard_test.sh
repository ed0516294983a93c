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

# stdbuf works by preloading a library; a sanitizer build of sx must be told
# that this is fine, or it refuses to start.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
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

# --- 2. the store tools never create a store and never pass over damage -----------------------
CHECK="sx store verify on a directory that is not a store fails and writes nothing there"
mkdir -p "$WORK/etc"
echo "root:x:0:0" >"$WORK/etc/passwd"
vout=$("$SX" store verify "$WORK/etc" 2>&1)
vrc=$?
if [ "$vrc" -eq 1 ] && [[ "$vout" == *"not an sx store"* ]] && [ "$(ls "$WORK/etc")" = passwd ]; then
  ok "$CHECK"
else
  bad "$CHECK" "exit $vrc: $vout" "now holds: $(ls "$WORK/etc" | tr '\n' ' ')"
fi

CHECK="sx store compact on a mistyped path fails and creates nothing"
cout=$("$SX" store compact "$WORK/no-such-store" 2>&1)
crc=$?
if [ "$crc" -eq 1 ] && [ ! -e "$WORK/no-such-store" ]; then
  ok "$CHECK"
else
  bad "$CHECK" "exit $crc: $cout" "exists now: $(ls -d "$WORK/no-such-store" 2>&1)"
fi

CHECK="every store tool says a store with a missing segment is damaged and exits 1"
D=$WORK/missing
SX_PERSIST_SEGMENT_BYTES=8192 "$SX" --data-dir "$D" -e '
  (for-each (fn (i) (perform {:op "persist/append-next" :args (list "s" "t" i {:pad "0123456789abcdef0123456789abcdef0123456789"})})) (range 1 400))' >/dev/null
rm -f "$D/0000000002.seg"
why=()
for tool in stats verify compact dump; do
  tout=$("$SX" store "$tool" "$D" 2>&1 >/dev/null)
  trc=$?
  [ "$trc" -eq 1 ] && [[ "$tout" == *0000000002.seg* ]] || why+=("$tool: exit $trc: ${tout:0:300}")
done
if [ "${#why[@]}" -eq 0 ]; then ok "$CHECK"; else bad "$CHECK" "${why[@]}"; fi

# --- 3. the tools beside a running writer ------------------------------------------------------
# The writer rolls segments every few appends and truncates, so that
# compaction runs too; the tools must never report damage that is not there.
D=$WORK/live
CHECK="verify, stats and dump beside a writer that rolls and compacts say the store is in use, never damaged"
SX_PERSIST_SEGMENT_BYTES=8192 "$SX" --data-dir "$D" -e '
  (define (op name &rest args) (perform {:op name :args args}))
  (let loop ((i 1))
    (when (< i 100000000)
      (op "persist/append-next" "s" "t" i {:pad "0123456789abcdef0123456789abcdef0123456789abcdef"})
      (when (= 0 (mod i 50)) (op "persist/truncate-through" "s" (- i 25)))
      (loop (+ i 1))))' >/dev/null 2>"$WORK/live.err" &
WL=$!
PIDS+=("$WL")
newest() { ls "$1" 2>/dev/null | grep '\.seg$' | tail -n 1; }
for _ in $(seq 1 100); do [[ "$(newest "$D")" > 0000000003.seg ]] && break; sleep 0.05; done
rolled_from=$(newest "$D")
why=()
in_use=0
for i in $(seq 1 20); do
  for tool in verify stats dump; do
    tout=$("$SX" store "$tool" "$D" 2>&1)
    trc=$?
    if [ "$trc" -eq 4 ] && [[ "$tout" == *"in use"* ]]; then
      in_use=$((in_use + 1))
    else
      why+=("$tool run $i: exit $trc: ${tout:0:300}")
    fi
  done
done
kill -9 "$WL" 2>/dev/null
wait "$WL" 2>/dev/null
vout=$("$SX" store verify "$D" 2>&1)
vrc=$?
[ "$vrc" -eq 0 ] || [ "$vrc" -eq 3 ] || why+=("verify after the writer is gone: exit $vrc: ${vout:0:300}")
if [ "${#why[@]}" -eq 0 ] && [[ "$(newest "$D")" > "$rolled_from" ]]; then
  ok "$CHECK ($in_use runs, segments $rolled_from to $(newest "$D"))"
else
  bad "$CHECK" "${why[@]:0:5}" "segments $rolled_from to $(newest "$D")" "writer: $(head -c 300 "$WORK/live.err")"
fi

summary
