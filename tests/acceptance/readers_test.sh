#!/usr/bin/env bash
# readers_test.sh — readers beside a writer, with real processes and kill -9
# (docs/persist.md, "Readers and followers").
#
#   SX=path/to/sx tests/acceptance/readers_test.sh [--rounds N]
#
# 1. One writer appends to stream "s" (and churns other data so that its
#    small segments roll and compact) while four --read-only readers follow
#    "s" with persist/follow. Each round kills the writer or a reader with
#    kill -9 at a random moment and starts it again. Two readers follow with
#    persist/follow (blocking in persist/wait), two with persist/subscribe
#    on the backend (a task that polls with task sleeps). Afterwards the store is
#    opened as a writer (recovery) and every event any reader saw must be
#    there, with the same content; each reader incarnation saw seqs 1, 2,
#    3, ... in order, with no duplicates and no gaps.
# 2. A durable cursor across restarts: a projector follows "s" with
#    {:cursor "proj" :exactly-once true} and is killed -9 at random moments
#    and restarted until it has caught up: each event's projection is then
#    written exactly once, and the cursor names the last event.
# 3. `sx store tail --follow` beside the writer prints what it commits.
#
# Prints one line per check and "N passed, N failed" at the end; exit 0 only
# when nothing failed.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SX=${SX:-$ROOT/build/sx}
ROUNDS=12
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    *) echo "usage: $0 [--rounds N]" >&2; exit 2 ;;
  esac
done
if [ ! -x "$SX" ]; then
  echo "readers_test: no sx binary at $SX (build it, or set SX)" >&2
  exit 2
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sx-readers.XXXXXX")
declare -A LIVE=()  # role -> pid
cleanup() {
  local p
  for p in "${LIVE[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# shellcheck source=scripts/checks.sh
. "$ROOT/scripts/checks.sh"

export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
LINEBUF=()
if command -v stdbuf >/dev/null 2>&1; then LINEBUF=(stdbuf -oL); fi

D=$WORK/store
export SX_PERSIST_SEGMENT_BYTES=65536  # rolls every few hundred appends
export SX_PERSIST_SYNC=never           # kill -9 loses nothing the kernel has

# Appends {:n seq} to "s" until killed; every 40 events it also writes and
# truncates "junk" and overwrites a kv key, and every 400 it compacts, so
# the readers meet rolls, retired segments and files that vanish.
WRITER='
(import persist)
(define b (persist/durable-backend))
(let loop ((i (+ 1 (persist/last-seq b "s"))))
  (persist/append b "s" "t" 0 {:n i})
  (when (= 0 (mod i 40))
    (for-each (fn (k) (persist/append b "junk" "t" 0 (str "junk-" i "-" k "-0123456789abcdef0123456789"))) (range 20))
    (perform {:op "persist/truncate-through" :args (list "junk" (persist/last-seq b "junk"))})
    (persist/kv-put b "k" (str "value-" i "-0123456789abcdef0123456789abcdef")))
  (when (= 0 (mod i 400)) (perform {:op "persist/compact" :args ()}))
  (when (= 0 (mod i 50)) (println "ack" i "."))
  (when (= 0 (mod i 10)) (sleep 2))  ; a steady pace: kills land mid-stream
  (loop (+ i 1)))'

# Follows "s" from the start, printing "saw SEQ N ." per event.
READER='
(import persist)
(define b (persist/durable-backend))
(persist/follow b "s" 0
  (fn (e) (println "saw" (persist/event-seq e) (get (persist/event-data e) :n) "."))
  {:wait-ms 200})'

# The same through persist/subscribe on the backend: a task follows, the
# main task sleeps (so the follower polls with task sleeps, never blocking).
SUBSCRIBER='
(import persist)
(define b (persist/durable-backend))
(persist/subscribe b "s"
  (fn (bk s e) (println "saw" (persist/event-seq e) (get (persist/event-data e) :n) "."))
  {:after 0})
(let loop () (sleep 1000) (loop))'

wait_for() {
  for _ in $(seq 1 200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

INCARNATION=0
start() {  # start ROLE: writer or rN
  INCARNATION=$((INCARNATION + 1))
  local out=$WORK/$1.$INCARNATION
  if [ "$1" = writer ]; then
    "${LINEBUF[@]}" "$SX" --data-dir "$D" -e "$WRITER" >"$out.out" 2>"$out.err" &
  elif [ "$1" = r3 ] || [ "$1" = r4 ]; then
    "${LINEBUF[@]}" "$SX" --read-only --data-dir "$D" -e "$SUBSCRIBER" >"$out.out" 2>"$out.err" &
  else
    "${LINEBUF[@]}" "$SX" --read-only --data-dir "$D" -e "$READER" >"$out.out" 2>"$out.err" &
  fi
  LIVE[$1]=$!
  echo "$1 $out" >>"$WORK/incarnations"
}
stop() {  # stop ROLE: kill -9, and check that it had not died on its own
  local pid=${LIVE[$1]}
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "$1 (pid $pid) had died on its own" >>"$WORK/deaths"
  fi
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  unset "LIVE[$1]"
}
pause() { sleep "0.$((RANDOM % 4 + 1))$((RANDOM % 10))"; }

# --- 1. writer and four readers under kill -9 ---------------------------------------------
start writer
wait_for "$(awk '/^writer/ {f=$2} END {print f}' "$WORK/incarnations").out" '^ack 50 \.$' ||
  bad "the writer started" "$(cat "$WORK"/writer.*.err)"
for r in r1 r2 r3 r4; do start $r; done
for round in $(seq 1 "$ROUNDS"); do
  pause
  if [ $((round % 3)) -eq 0 ]; then victim=writer; else victim=r$((RANDOM % 4 + 1)); fi
  stop $victim
  [ $((RANDOM % 2)) -eq 0 ] && pause
  start $victim
done
pause
[ -n "${LIVE[writer]:-}" ] && stop writer
# Let the readers catch up (a reader started last has the whole stream to
# read) before they are stopped: up to 60 s for each to print the last seq.
last_seq=$("$SX" --read-only --data-dir "$D" -e '(perform {:op "persist/last-seq" :args (list "s")})')
for _ in $(seq 1 600); do
  behind=0
  for r in r1 r2 r3 r4; do
    out=$(awk -v r=$r '$1 == r {f=$2} END {print f}' "$WORK/incarnations")
    grep -q "^saw $last_seq $last_seq \.$" "$out.out" || behind=1
  done
  [ $behind -eq 0 ] && break
  sleep 0.1
done
for role in "${!LIVE[@]}"; do stop "$role"; done

CHECK="no process died on its own (a reader never failed on a roll, compaction or torn record)"
if [ ! -s "$WORK/deaths" ]; then
  ok "$CHECK"
else
  bad "$CHECK" "$(cat "$WORK/deaths")" "$(tail -n 3 "$WORK"/*.err | head -c 1500)"
fi

# The store as recovery sees it: "SEQ N" per event of "s".
"$SX" --data-dir "$D" -e '(import persist)
  (for-each (fn (e) (println (persist/event-seq e) (get (persist/event-data e) :n)))
            (persist/read (persist/durable-backend) "s"))' 2>"$WORK/stored.err" |
  grep -E '^[0-9]+ [0-9]+$' >"$WORK/stored"
total=$(wc -l <"$WORK/stored")

CHECK="after recovery the store holds 1..N in order, each with its own content"
if [ "$total" -gt 100 ] && awk '$1 != NR || $2 != NR { exit 1 }' "$WORK/stored"; then
  ok "$CHECK (N = $total)"
else
  bad "$CHECK" "$total events" "$(head -c 500 "$WORK/stored.err")"
fi

CHECK="every reader incarnation saw 1, 2, 3, ... in order: no duplicates, no gaps"
problems=() seen_total=0 readers=0
while read -r role out; do
  [ "$role" = writer ] && continue
  readers=$((readers + 1))
  awk '/^saw [0-9]+ [0-9]+ \.$/ { print $2, $3 }' "$out.out" >"$out.saw"
  n=$(wc -l <"$out.saw")
  seen_total=$((seen_total + n))
  if ! awk '$1 != NR { exit 1 }' "$out.saw"; then
    problems+=("$out: $(awk '$1 != NR { print "line " NR " has seq " $1; exit }' "$out.saw")")
  fi
done <"$WORK/incarnations"
if [ ${#problems[@]} -eq 0 ] && [ "$seen_total" -gt 0 ]; then
  ok "$CHECK ($readers incarnations, $seen_total events seen)"
else
  bad "$CHECK" "${problems[@]}"
fi

CHECK="every event a reader saw is in the store after recovery, with the content it saw"
missing=$(cat "$WORK"/r*.saw | sort -u | comm -23 - <(sort -u "$WORK/stored") | head -5)
if [ -z "$missing" ] && [ "$seen_total" -gt 0 ]; then
  ok "$CHECK"
else
  bad "$CHECK" "seen but not stored: $missing"
fi

CHECK="the readers kept up: the last reader incarnations saw every stored event"
behind=()
for r in r1 r2 r3 r4; do
  last=$(awk -v r=$r '$1 == r {f=$2} END {print f}' "$WORK/incarnations")
  n=$(wc -l <"$last.saw")
  [ "$n" -eq "$total" ] || behind+=("$r saw $n of $total")
done
if [ ${#behind[@]} -eq 0 ]; then ok "$CHECK"; else bad "$CHECK" "${behind[@]}"; fi

# --- 2. a durable cursor across restarts -----------------------------------------------------
PROJECTOR='
(import persist)
(define b (persist/durable-backend))
(persist/follow b "s" 0
  (fn (e)
    (println "handled" (persist/event-seq e) ".")
    (list {:op "kv-put" :key (str "proj/" (persist/event-seq e))
           :value (+ 1 (or (persist/kv-get b (str "proj/" (persist/event-seq e))) 0))}))
  {:cursor "proj" :exactly-once true :idle-ms 300})
(println "caught up")'
for attempt in $(seq 1 30); do
  "${LINEBUF[@]}" "$SX" --data-dir "$D" -e "$PROJECTOR" >"$WORK/proj.$attempt" 2>"$WORK/proj.$attempt.err" &
  LIVE[proj]=$!
  if [ "$attempt" -le 4 ]; then
    sleep "0.$((RANDOM % 5 + 2))"
    stop proj
  else
    wait "${LIVE[proj]}"
    unset "LIVE[proj]"
    grep -q '^caught up$' "$WORK/proj.$attempt" && break
  fi
done
CHECK="a projector killed -9 mid-way resumes from its durable cursor: each event projected exactly once"
counts=$("$SX" --data-dir "$D" -e '(import persist) (define b (persist/durable-backend))
  (println (persist/cursor b "proj"))
  (println (len (filter (fn (k) (starts-with? k "proj/")) (persist/kv-keys b))))
  (println (every? (fn (k) (= 1 (persist/kv-get b k))) (filter (fn (k) (starts-with? k "proj/")) (persist/kv-keys b))))
  :end' 2>&1 | grep -v '^:end$')
want=$(printf '%s\n%s\n%s' "$total" "$total" true)
restarts=$(ls "$WORK"/proj.* | grep -vc err)
if [ "$counts" = "$want" ] && grep -q '^caught up$' "$WORK"/proj.*[0-9]; then
  ok "$CHECK ($restarts runs)"
else
  bad "$CHECK" "cursor, projected keys, all once: $(echo $counts) (want $(echo $want))"
fi
CHECK="the projector restarts where it stopped (at least once: nothing skipped, no rerun from the start)"
handled=$(cat "$WORK"/proj.*[0-9] | awk '/^handled [0-9]+ \.$/ { print $2 }')
distinct=$(echo "$handled" | sort -un | wc -l)
lines=$(echo "$handled" | wc -l)
if [ "$distinct" -eq "$total" ] && [ "$lines" -le $((total + restarts)) ]; then
  ok "$CHECK ($lines handled lines for $total events)"
else
  bad "$CHECK" "$distinct distinct of $total, $lines lines, $restarts runs"
fi

# --- 3. sx store tail --follow beside the writer -------------------------------------------------
"${LINEBUF[@]}" "$SX" store tail "$D" s --from $((total + 1)) --follow --json >"$WORK/tail.out" 2>"$WORK/tail.err" &
LIVE[tail]=$!
start writer
wait_for "$(awk '/^writer/ {f=$2} END {print f}' "$WORK/incarnations").out" '^ack [0-9]* \.$'
sleep 0.5
stop writer
sleep 0.3
stop tail
CHECK="sx store tail --follow prints each new event as the writer commits it"
first=$(head -n 1 "$WORK/tail.out")
if [[ "$first" == "{\"stream\":\"s\",\"seq\":$((total + 1)),\"event\":{"*"\"n\":$((total + 1))"* ]] &&
   [ "$(wc -l <"$WORK/tail.out")" -ge 50 ]; then
  ok "$CHECK ($(wc -l <"$WORK/tail.out") events)"
else
  bad "$CHECK" "first line: $first" "$(head -c 300 "$WORK/tail.err")"
fi

# --- 4. what a read-only process may not do ------------------------------------------------------
check "a write op in a --read-only process is an error naming the op" 1 \
  'persist/append-next: stream "s": InvalidArgument: append to stream "s": store is opened read-only' -- \
  "$SX" --read-only --data-dir "$D" -e '(perform {:op "persist/append-next" :args (list "s" "t" 0 1)})'
ro_env() { SX_PERSIST_READ_ONLY=1 "$SX" --data-dir "$D" -e "$1"; }
check "SX_PERSIST_READ_ONLY=1 is --read-only" 1 'persist/kv-put: key "k": InvalidArgument' -- \
  ro_env '(perform {:op "persist/kv-put" :args (list "k" 1)})'
check "a read-only process reads beside nothing and names what it cannot open" 1 \
  "persist/read: cannot open the store at $WORK/none" -- \
  "$SX" --read-only --data-dir "$WORK/none" -e '(perform {:op "persist/read" :args (list "s")})'
if [ -e "$WORK/none" ]; then bad "a read-only process creates no store" "$WORK/none exists"; else ok "a read-only process creates no store"; fi

summary
