#!/usr/bin/env bash
# crash_test.sh — kill -9 torture of the durable store through the sx binary.
#
#   SX=path/to/sx scripts/crash_test.sh [--kills N] [--sync MODE] [--max-ms MS]
#                                       [--segment-bytes B] [--seed S]
#                                       [--store URL [--pg-dir DIR] [--stop-every K]]
#
# A writer script appends events to one stream and bumps a kv counter,
# printing each acknowledged seq and counter value the moment its op returns;
# every 50th seq it truncates the stream through seq - 20. Segments are small
# (--segment-bytes, default 16384), so the kills also land in segment rolls
# and in the compactions that truncation sets off. The harness kills the
# writer with SIGKILL at a random moment, restarts sx, and checks with a
# fresh process that
#   - every acknowledged seq above the truncation point is stored, with its
#     own payload,
#   - the stored seqs run contiguously from just above a truncation point the
#     writer made (at least the last acknowledged one) up to last-seq,
#   - the counter is at least the last acknowledged value and at most N,
#   - the writer never failed on its own (a restart always recovers).
# While the writer runs, every 7th round deletes LOCK and starts a second
# writer, which must be refused without acknowledging anything, and every
# 10th round runs `sx store verify`, which must say the store is in use.
# Every 10th round and at the end `sx store verify` must pass on the store
# at rest too.
#
# On PostgreSQL (--store postgres://... or postgresql://...) the store is a
# fresh schema, crash_<time>_<pid>, dropped at the end when every check held
# (kept, and named, otherwise); --sync and --segment-bytes do not apply, and
# a server that cannot be reached fails the run. The same writer is killed
# the same way, and the same checks follow each kill. Before the reader
# looks, the harness waits (psql, pg_stat_activity) until the killed
# writer's server session has ended, so that a COMMIT the server had
# already received is decided.
# Besides, every --stop-every K rounds (default 4; 0: never) the server is
# stopped hard in the middle of the writer's work, after its first ack:
# `scripts/pg_server.sh restart DIR` (pg_ctl stop -m immediate, as a crash,
# then start; DIR from --pg-dir, default $SX_PG_DIR, so a cluster made by
# scripts/pg_server.sh start). Those rounds alternate between
#   - killing the writer while the server is down or starting again, and
#   - letting the restart finish, then waiting (up to 30 s) for the writer's
#     next ack, then killing it at a random moment.
# The writer catches nothing, and the harness is its supervisor. While the
# server is down, reads and write groups wait: the backend reconnects and
# runs them again for up to its retry time (15 s), and a lost COMMIT is
# decided by reading it back (docs/postgres.md, "Failures"). A writer ends
# with an IOError only when the server stays down longer than that. That
# op was not acknowledged (it may or may not have landed), and the next
# round starts a new writer on the same URL, at last-seq + 1: in a round
# that stops the server a writer that exits 1 with an IOError is counted,
# not failed. Ending by itself any other way, or in any other
# round, is a failure; and a writer that outlives the stop must acknowledge
# again after the start.
# Checks of the embedded store's files are skipped by name, with the reason:
# the second writer with LOCK deleted (PostgreSQL takes many writers; the
# test's writer is meant to be alone) and `sx store verify` beside the
# writer. `sx store verify` at rest becomes: `sx store export URL` lists the
# same events, counter and last seq as the reader.
#
# Ends with a line of counts (second writers refused and verify beside the
# writer; on PostgreSQL the server stops and how the writer fared), then
# "kills: N, acknowledged: N, lost: N"; exit 0 only when nothing was lost
# and every check held.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SX=${SX:-$ROOT/build/sx}
KILLS=200
SYNC=always
MAX_MS=250
SEGMENT_BYTES=16384
SEED=
STORE_URL=
PG_DIR=${SX_PG_DIR:-}
STOP_EVERY=4

usage() {
  echo "usage: crash_test.sh [--kills N] [--sync always|batch|never] [--max-ms MS] [--segment-bytes B] [--seed S]" >&2
  echo "                     [--store postgresql://... [--pg-dir DIR] [--stop-every K]]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --kills|-n) [ $# -ge 2 ] || usage; KILLS=$2; shift 2 ;;
    --sync) [ $# -ge 2 ] || usage; SYNC=$2; shift 2 ;;
    --max-ms) [ $# -ge 2 ] || usage; MAX_MS=$2; shift 2 ;;
    --segment-bytes) [ $# -ge 2 ] || usage; SEGMENT_BYTES=$2; shift 2 ;;
    --seed) [ $# -ge 2 ] || usage; SEED=$2; shift 2 ;;
    --store) [ $# -ge 2 ] || usage; STORE_URL=$2; shift 2 ;;
    --pg-dir) [ $# -ge 2 ] || usage; PG_DIR=$2; shift 2 ;;
    --stop-every) [ $# -ge 2 ] || usage; STOP_EVERY=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "crash_test: unknown argument $1" >&2; usage ;;
  esac
done
[[ "$KILLS" =~ ^[0-9]+$ ]] && [ "$KILLS" -gt 0 ] || usage
[[ "$MAX_MS" =~ ^[0-9]+$ ]] && [ "$MAX_MS" -gt 0 ] || usage
[[ "$SEGMENT_BYTES" =~ ^[0-9]+$ ]] && [ "$SEGMENT_BYTES" -ge 4096 ] || usage
export SX_PERSIST_SEGMENT_BYTES=$SEGMENT_BYTES
[[ "$STOP_EVERY" =~ ^[0-9]+$ ]] || usage
case "$SYNC" in always|batch|never) ;; *) usage ;; esac
if [ ! -x "$SX" ]; then
  echo "crash_test: no sx binary at $SX (build it, or set SX)" >&2
  exit 2
fi
# shellcheck source=scripts/store_url.sh
. "$ROOT/scripts/store_url.sh"
on_pg() { [ -n "$STORE_URL" ]; }
if on_pg; then
  if ! is_pg_url "$STORE_URL"; then
    echo "crash_test: --store takes a PostgreSQL URL (postgres://...), got '$STORE_URL'" >&2
    exit 2
  fi
  if ! command -v psql >/dev/null 2>&1; then
    echo "crash_test: on PostgreSQL the harness needs psql (Debian's postgresql-client)" >&2
    exit 2
  fi
  if [ "$STOP_EVERY" -gt 0 ] && [ ! -f "$PG_DIR/opts" ]; then
    echo "crash_test: stopping the server needs the folder of a cluster scripts/pg_server.sh started" \
      "(--pg-dir DIR or SX_PG_DIR; got '$PG_DIR'), or --stop-every 0" >&2
    exit 2
  fi
else
  STOP_EVERY=0
fi
SEED=${SEED:-$$}
RANDOM=$SEED

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sx-crash.XXXXXX")
WRITER_PID=
SECOND_PID=
RESTART_PID=
PROBLEMS=0
cleanup() {
  if [ -n "$WRITER_PID" ]; then kill -9 "$WRITER_PID" 2>/dev/null; wait "$WRITER_PID" 2>/dev/null; fi
  if [ -n "$SECOND_PID" ]; then kill -9 "$SECOND_PID" 2>/dev/null; wait "$SECOND_PID" 2>/dev/null; fi
  # A restart under way is let finish: the server must be up for others.
  if [ -n "$RESTART_PID" ]; then wait "$RESTART_PID" 2>/dev/null; fi
  if [ "$PROBLEMS" -gt 0 ]; then
    echo "crash_test: kept $WORK for inspection (failed/ holds each failed round)"
    on_pg && echo "crash_test: kept the schema too: $(url_for_messages "$DATA")"
  else
    rm -rf "$WORK"
    on_pg && drop_schemas "$DATA"
  fi
}
trap cleanup EXIT
trap "exit 130" INT TERM
if on_pg; then
  DATA=$(url_with_schema "$STORE_URL" "crash_$(date +%s)_$$")
  # The writer's sessions carry a name of their own, so the harness can
  # wait for a killed writer's session to end on the server.
  WRITER_APP="sx_crash_writer_$$"
  WRITER_STORE=("--store" "$DATA&application_name=$WRITER_APP")
else
  DATA=$WORK/data
  WRITER_STORE=("--store" "$DATA" "--sync" "$SYNC")
fi

# Line-buffer the writer's stdout so that each acknowledgement leaves the
# process as soon as it is printed (a lost print only makes the test weaker).
# stdbuf works by preloading a library; a sanitizer build of sx must be told
# that this is fine, or it refuses to start.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
LINEBUF=()
if command -v stdbuf >/dev/null 2>&1; then LINEBUF=(stdbuf -oL); fi

# The writer. Every fifth step goes through persist/commit (append and counter
# in one atomic batch); the others are a plain append, then a kv-put. An ack
# line ends in " ." so that a line cut by the kill is never mistaken for one.
cat >"$WORK/writer.sx" <<'EOF'
(define (op name &rest args) (perform {:op name :args args}))
(define (event n) {:stream "crash" :seq n :type "tick" :at n :data {:n n :pad "0123456789abcdef"}})
(let loop ((n (+ 1 (op "persist/last-seq" "crash"))))
  (when (< n 100000000)
    (if (= 0 (mod n 5))
        (begin
          (op "persist/commit" (list {:op "append" :stream "crash" :event (event n)}
                                     {:op "kv-put" :key "counter" :value n}))
          (println "ack seq" n ".")
          (println "ack counter" n "."))
        (begin
          (op "persist/append" "crash" (event n))
          (println "ack seq" n ".")
          (op "persist/kv-put" "counter" n)
          (println "ack counter" n ".")))
    (when (= 0 (mod n 50))
      (op "persist/truncate-through" "crash" (- n 20))
      (println "ack trunc" (- n 20) "."))
    (loop (+ n 1))))
EOF

# The reader: every stored event as "seq n", then the counter and last-seq.
READER='
(define (op name &rest args) (perform {:op name :args args}))
(for-each (fn (e) (println "event" (get e :seq) (get (get e :data) :n))) (op "persist/read" "crash"))
(println "counter" (or (op "persist/kv-get" "counter") 0))
(println "last" (op "persist/last-seq" "crash"))
(println "end")'

# export_matches_reader — on PostgreSQL, in place of `sx store verify`: the
# store's export (sx store export URL) holds the events, counter and last
# seq the reader printed last, in the reader's form.
export_matches_reader() {
  "$SX" store export "$DATA" --stream crash --kv >"$WORK/export.jsonl" || return 1
  awk '
    function num(key,   at) {
      if (!match($0, "\"" key "\":-?[0-9]+")) return "?"
      at = substr($0, RSTART, RLENGTH)
      sub(/.*:/, "", at)
      return at
    }
    /"kind":"event"/ { print "event", num("seq"), num("n") }
    /"kind":"kv","key":"counter"/ { counter = num("value") }
    /"kind":"stream","stream":"crash"/ { last = num("last_seq") }
    END { print "counter", (counter == "" ? 0 : counter); print "last", last; print "end" }
  ' "$WORK/export.jsonl" >"$WORK/export.state"
  # The reader's lines, without the value -e prints at the end.
  grep -E '^(event|counter|last|end)( |$)' "$WORK/state" >"$WORK/reader.state"
  if ! cmp -s "$WORK/export.state" "$WORK/reader.state"; then
    echo "the export differs from what the reader read: $(diff "$WORK/reader.state" "$WORK/export.state" | head -c 500)"
    return 1
  fi
}

ACKED_SEQ=0       # highest acknowledged seq so far
ACKED_COUNTER=0   # highest acknowledged counter value so far
ACKED_TRUNC=0     # highest acknowledged truncation point so far
REFUSED=0         # second writers refused beside a live one, LOCK deleted
IN_USE=0          # verify runs beside a live writer that said "in use"
ACKED_TOTAL=0     # acknowledged seqs, counted once each
STORED=0          # the last stored seq the reader saw after the previous kill
LOST=0
# A failure keeps the round's files (the writer's acks, the reader's view, a
# dump of the store) and the scratch directory, for a look afterwards.
problem() {
  echo "FAIL round $1: $2"
  PROBLEMS=$((PROBLEMS + 1))
  mkdir -p "$WORK/failed/round-$1"
  cp "$WORK"/acks "$WORK"/writer.err "$WORK"/state "$WORK"/prev-acks "$WORK/failed/round-$1/" 2>/dev/null
  if on_pg; then
    "$SX" store export "$DATA" >"$WORK/failed/round-$1/export.jsonl" 2>&1
  else
    "$SX" store dump "$DATA" >"$WORK/failed/round-$1/dump" 2>&1
  fi
}

STOPS=0          # rounds that stopped the server hard
STOPS_KILLED=0   # ... and killed the writer while it was down or starting
STOPS_WENT_ON=0  # ... and saw the writer acknowledge again after it
STOPS_IOERROR=0  # ... where the writer ended with an IOError meanwhile
STOP_MAX_MS=0    # the longest restart, in ms
# alive PID — the process runs (a zombie waiting for `wait` does not).
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) && [[ "$state" != Z* ]]
}
# acks FILE — how many complete seq acks the writer has printed.
acks() { grep -c '^ack seq [0-9]* \.$' "$1" 2>/dev/null; }

# wait_writer_session_gone — on PostgreSQL, waits (up to 30 s) until no
# session of a writer is left on the server: a COMMIT the server received
# before the kill is then committed or rolled back, not still on its way.
wait_writer_session_gone() {
  local n
  for ((w = 0; w < 300; w++)); do
    n=$(psql "$(url_without_schema "$STORE_URL")" -qAt -c \
      "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$WRITER_APP'" 2>/dev/null)
    [ "$n" = 0 ] && return 0
    sleep 0.1
  done
  return 1
}

# stop_server_hard ROUND — stops the server hard in the middle of the
# writer's work and starts it again (scripts/pg_server.sh restart); odd stops
# kill the writer meanwhile (KILLED_STATUS: how it ended), even ones wait for
# its next ack after the start.
stop_server_hard() {
  local round=$1 before t0 down ms
  before=$(acks "$WORK/acks")
  t0=$(date +%s%N)
  "$ROOT/scripts/pg_server.sh" restart "$PG_DIR" >"$WORK/restart.err" 2>&1 &
  RESTART_PID=$!
  STOPS=$((STOPS + 1))
  if [ $((STOPS % 2)) -eq 1 ]; then
    ms=$((RANDOM % MAX_MS))
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    kill -9 "$WRITER_PID" 2>/dev/null
    wait "$WRITER_PID" 2>/dev/null
    KILLED_STATUS=$?
    [ "$KILLED_STATUS" -eq 137 ] && STOPS_KILLED=$((STOPS_KILLED + 1))
  fi
  if ! wait "$RESTART_PID"; then
    RESTART_PID=
    problem "$round" "the server did not come back: $(cat "$WORK/restart.err")"
    return 1
  fi
  RESTART_PID=
  down=$((($(date +%s%N) - t0) / 1000000))
  [ "$down" -gt "$STOP_MAX_MS" ] && STOP_MAX_MS=$down
  if [ $((STOPS % 2)) -eq 0 ]; then
    for ((w = 0; w < 3000; w++)); do
      [ "$(acks "$WORK/acks")" -gt "$before" ] && break
      alive "$WRITER_PID" || break
      sleep 0.01
    done
    if [ "$(acks "$WORK/acks")" -gt "$before" ]; then
      STOPS_WENT_ON=$((STOPS_WENT_ON + 1))
    elif alive "$WRITER_PID"; then
      problem "$round" "the writer acknowledged nothing in 30 s after the server came back (down ${down} ms): $(head -c 500 "$WORK/writer.err")"
    fi  # else it ended by itself: judged with the round's other kills
  fi
  return 0
}

if on_pg; then
  echo "crash_test: sx=$SX kills=$KILLS store=$(url_for_messages "$DATA") stop-every=$STOP_EVERY max-ms=$MAX_MS seed=$SEED"
  echo "skip  a second writer with LOCK deleted is refused — PostgreSQL takes many writers (no LOCK file)"
  echo "skip  sx store verify beside the writer says the store is in use — sx store verify works on directories only"
  echo "      (in its place at rest: sx store export lists what the reader reads)"
else
  echo "crash_test: sx=$SX kills=$KILLS sync=$SYNC max-ms=$MAX_MS segment-bytes=$SEGMENT_BYTES seed=$SEED"
fi
# Create the store first (its 64 MiB segment takes a while to write), so
# that the kills land in the writer's ops and reopenings.
"$SX" --store "$DATA" -e "$READER" >/dev/null 2>"$WORK/reader.err" || {
  echo "crash_test: cannot create the store: $(cat "$WORK/reader.err")"
  exit 1
}
start=$(date +%s)
for ((round = 1; round <= KILLS; round++)); do
  [ -s "$WORK/acks" ] && cp "$WORK/acks" "$WORK/prev-acks"
  "${LINEBUF[@]}" "$SX" "${WRITER_STORE[@]}" "$WORK/writer.sx" >"$WORK/acks" 2>"$WORK/writer.err" &
  WRITER_PID=$!
  stop_round=0
  [ "$STOP_EVERY" -gt 0 ] && [ $((round % STOP_EVERY)) -eq 0 ] && stop_round=1
  # Every third round waits (up to 30 s) for the writer's first
  # acknowledgement before the random delay, so that on a loaded machine,
  # where starting sx can take longer than MAX_MS, kills still land among
  # acknowledged writes and not only in start-up and recovery. A round
  # that stops the server waits too: the stop is to land in the writes.
  if [ $((round % 3)) -eq 0 ] || [ "$stop_round" -eq 1 ]; then
    for ((w = 0; w < 3000; w++)); do
      grep -q '^ack seq [0-9]* \.$' "$WORK/acks" 2>/dev/null && break
      sleep 0.01
    done
  fi
  ms=$((RANDOM % MAX_MS))
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  # Once the writer has acknowledged something it holds the store: then a
  # second writer must be refused even with LOCK deleted, and verify must
  # say the store is in use. (Not on PostgreSQL: see the header.)
  if ! on_pg && grep -q '^ack seq [0-9]* \.$' "$WORK/acks" 2>/dev/null; then
    if [ $((round % 7)) -eq 0 ]; then
      rm -f "$DATA/LOCK"
      "$SX" --data-dir "$DATA" --sync "$SYNC" "$WORK/writer.sx" >"$WORK/second.out" 2>"$WORK/second.err" &
      SECOND_PID=$!
      wait "$SECOND_PID"
      second=$?
      SECOND_PID=
      if [ "$second" -ne 1 ] || ! grep -q "store is locked" "$WORK/second.err" ||
         grep -q '^ack' "$WORK/second.out"; then
        problem "$round" "a second writer with LOCK deleted was not refused (exit $second): $(head -c 500 "$WORK/second.err") $(grep -c '^ack' "$WORK/second.out") acks"
      else
        REFUSED=$((REFUSED + 1))
      fi
    fi
    if [ $((round % 10)) -eq 5 ]; then
      vout=$("$SX" store verify "$DATA" 2>&1)
      vrc=$?
      if [ "$vrc" -ne 4 ]; then
        problem "$round" "sx store verify beside the writer: exit $vrc (want 4, in use): ${vout:0:500}"
      else
        IN_USE=$((IN_USE + 1))
      fi
    fi
  fi
  KILLED_STATUS=
  if [ "$stop_round" -eq 1 ]; then
    stop_server_hard "$round" || break
  fi
  if [ -n "$KILLED_STATUS" ]; then
    status=$KILLED_STATUS
  else
    if [ "$stop_round" -eq 1 ]; then
      ms=$((RANDOM % MAX_MS))
      sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    fi
    kill -9 "$WRITER_PID" 2>/dev/null
    wait "$WRITER_PID" 2>/dev/null
    status=$?
  fi
  WRITER_PID=
  if [ "$status" -ne 137 ]; then
    if [ "$stop_round" -eq 1 ] && [ "$status" -eq 1 ] && grep -q 'IOError' "$WORK/writer.err"; then
      # The server was stopped under it: the next round restarts it (see
      # the header).
      STOPS_IOERROR=$((STOPS_IOERROR + 1))
      echo "round $round: the writer ended while the server was stopped: $(grep -m1 'IOError' "$WORK/writer.err" | cut -c1-240)"
    else
      problem "$round" "the writer ended by itself (exit $status): $(head -c 2000 "$WORK/writer.err")"
    fi
  fi
  if on_pg && ! wait_writer_session_gone; then
    problem "$round" "the killed writer's session was still on the server after 30 s"
  fi

  # What this run acknowledged: complete ack lines only.
  read -r run_seq_min run_seq_max run_seqs run_counter run_trunc < <(awk '
    /^ack seq [0-9]+ \.$/ { n++; if (!min) min = $3; max = $3 }
    /^ack counter [0-9]+ \.$/ { c = $3 }
    /^ack trunc [0-9]+ \.$/ { t = $3 }
    END { printf "%d %d %d %d %d\n", min, max, n, c, t }' "$WORK/acks")
  if [ "$run_seqs" -gt 0 ]; then
    if [ "$run_seq_min" -ne $((STORED + 1)) ]; then
      # The writer starts at last-seq + 1, and last-seq is what the reader
      # saw after the previous kill.
      problem "$round" "the writer started at seq $run_seq_min, but $STORED was the last stored seq"
    fi
    ACKED_SEQ=$run_seq_max
    ACKED_TOTAL=$((ACKED_TOTAL + run_seqs))
  fi
  [ "$run_counter" -gt 0 ] && ACKED_COUNTER=$run_counter
  [ "$run_trunc" -gt 0 ] && ACKED_TRUNC=$run_trunc

  # A fresh process recovers the store and reads everything back.
  if ! "$SX" --store "$DATA" -e "$READER" >"$WORK/state" 2>"$WORK/reader.err"; then
    problem "$round" "the reader failed after the kill: $(head -c 2000 "$WORK/reader.err")"
    LOST=$ACKED_SEQ  # nothing can be read back
    break
  fi
  read -r verdict missing STORED < <(awk -v acked="$ACKED_SEQ" -v acked_counter="$ACKED_COUNTER" -v stored="$STORED" -v acked_trunc="$ACKED_TRUNC" '
    $1 == "event" {
      seq = $2 + 0
      if (n == 0) {
        # Everything below the first stored event was truncated: by a
        # truncation the writer made (through n - 20 at every 50th n), at
        # least the last acknowledged one.
        trunc = seq - 1
        if (trunc != 0 && (trunc + 20) % 50 != 0) bad = bad " the first stored seq is " seq ", but the writer never truncated through " trunc
        if (trunc < acked_trunc) bad = bad " the first stored seq is " seq ", but truncation through " acked_trunc " was acknowledged"
        prev = trunc
      }
      if (seq != prev + 1) { bad = bad " seq " seq " follows " prev }
      if ($3 + 0 != seq) { bad = bad " seq " seq " carries the payload of " $3 }
      present[seq] = 1; prev = seq; n++
    }
    $1 == "counter" { counter = $2 + 0; have_counter = 1 }
    $1 == "last" { last = $2 + 0; have_last = 1 }
    $1 == "end" { ended = 1 }
    END {
      missing = 0
      if (n == 0) trunc = 0
      if (n > 0 && trunc > 0 && trunc + 20 > prev) bad = bad " truncated through " trunc " but only " prev " is stored (truncation comes 20 seqs behind)"
      for (i = trunc + 1; i <= acked; i++) if (!(i in present)) missing++
      if (!ended || !have_counter || !have_last) bad = bad " incomplete reader output"
      if (missing) bad = bad " " missing " acknowledged seqs missing (acknowledged up to " acked ", last stored " prev ")"
      if (last != prev) bad = bad " last-seq " last " but the last stored event is " prev
      # Beyond what was stored before, only the one op in flight at the kill.
      base = acked > stored ? acked : stored
      if (prev > base + 1) bad = bad " seq " prev " stored but only " base " was stored or acknowledged (+1 in flight)"
      if (counter < acked_counter) bad = bad " counter " counter " below the acknowledged " acked_counter
      if (counter > prev) bad = bad " counter " counter " above the last stored seq " prev
      gsub(/ /, "_", bad)
      printf "%s %d %d\n", (bad == "" ? "ok" : bad), missing, prev
    }' "$WORK/state")
  # Once lost, a seq stays missing: the latest count is the total.
  [ "$missing" -gt "$LOST" ] && LOST=$missing
  if [ "$verdict" != ok ]; then
    problem "$round" "${verdict//_/ }"
  fi
  if [ $((round % 10)) -eq 0 ] || [ "$round" -eq "$KILLS" ]; then
    if on_pg; then
      if ! vout=$(export_matches_reader 2>&1); then
        problem "$round" "sx store export: $vout"
      fi
    elif ! vout=$("$SX" store verify "$DATA" 2>&1); then
      problem "$round" "sx store verify failed: $vout"
    fi
    stored=$(grep -c '^event' "$WORK/state")
    echo "round $round: acknowledged up to seq $ACKED_SEQ (counter $ACKED_COUNTER), stored $stored, $((($(date +%s) - start)))s"
  fi
  [ "$PROBLEMS" -gt 20 ] && { echo "too many failures, stopping"; break; }
done

if on_pg; then
  echo "server stops: $STOPS (writer killed while the server was down or starting: $STOPS_KILLED," \
    "writer acknowledged again after the start: $STOPS_WENT_ON," \
    "writer ended with an IOError and was restarted: $STOPS_IOERROR, longest restart: $STOP_MAX_MS ms)"
else
  echo "second writers refused with LOCK deleted: $REFUSED, verify beside the writer said in use: $IN_USE"
fi
echo "kills: $((round > KILLS ? KILLS : round)), acknowledged: $ACKED_TOTAL, lost: $LOST"
[ "$LOST" -eq 0 ] && [ "$PROBLEMS" -eq 0 ] && [ "$ACKED_TOTAL" -gt 0 ]
