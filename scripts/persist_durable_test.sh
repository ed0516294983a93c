#!/usr/bin/env bash
# persist_durable_test.sh — acceptance test of the durable store, from the
# outside: it drives the real `sx` binary over scratch stores, one process
# per step where a restart matters, and checks what a user would see.
#
#   SX=path/to/sx scripts/persist_durable_test.sh [--store URL]
#
# Each group of checks has a store of its own: a scratch data directory, or
# with --store URL (postgres://... or postgresql://...) a fresh schema on that
# PostgreSQL server (URL with schema=durable_<time>_<pid>_<group>; any
# schema= of its own is replaced), dropped at the end through psql.
# On PostgreSQL every check runs that means the same there; those that need
# the embedded store's files or tools have a PostgreSQL form instead, or are
# skipped by name with the reason:
#   sx store verify passes    -> sx store export reads every event and key,
#                                and a fresh schema importing them exports
#                                the same bytes
#   sx store compact          -> the persist/compact op, in a process of its own
#   one file per blob         -> persist/stats counts the blob once
#   a second writer is refused (LOCK)
#                             -> a second writer beside a running one is let
#                                in, and both writers' writes are kept
#   a torn tail after kill -9 is cut off
#                             -> every write of a writer killed with kill -9
#                                is read back, and the next process continues
#   verify after the cut, a zeroed last record, a segment file cut short:
#                                skipped (segment files; the server has its WAL)
# A server that cannot be reached fails the checks; nothing is skipped for it.
#
# Prints one line per check (ok / FAIL / skip) and "N passed, N failed" at the
# end (plus "N skipped" when some were). Exit 0 only when nothing failed; a
# skipped check is never counted as passed.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SX=${SX:-$ROOT/build/sx}
STORE_URL=
usage() {
  echo "usage: persist_durable_test.sh [--store postgresql://USER:PW@HOST:PORT/DB]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --store) [ $# -ge 2 ] || usage; STORE_URL=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "persist_durable_test: unknown argument $1" >&2; usage ;;
  esac
done
if [ ! -x "$SX" ]; then
  echo "persist_durable_test: no sx binary at $SX (build it, or set SX)" >&2
  exit 2
fi
# shellcheck source=scripts/store_url.sh
. "$ROOT/scripts/store_url.sh"
if [ -n "$STORE_URL" ] && ! is_pg_url "$STORE_URL"; then
  echo "persist_durable_test: --store takes a PostgreSQL URL (postgres://...), got '$STORE_URL'" >&2
  exit 2
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sx-durable.XXXXXX")
HOLDER_PID=
SCHEMAS=()    # the URLs of the schemas made on the server, dropped at exit
SCHEMA_PREFIX="durable_$(date +%s)_$$"
cleanup() {
  if [ -n "$HOLDER_PID" ]; then kill "$HOLDER_PID" 2>/dev/null; wait "$HOLDER_PID" 2>/dev/null; fi
  drop_schemas "${SCHEMAS[@]}"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# stdbuf works by preloading a library; a sanitizer build of sx must be told
# that this is fine, or it refuses to start.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

# shellcheck source=scripts/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

# Helpers every SX snippet starts with.
PRELUDE='
(define (op name &rest args) (perform {:op name :args args}))
(define (ev s n data) {:stream s :seq n :type "t" :at n :data data})
(define (seqs s) (map (fn (e) (get e :seq)) (op "persist/read" s)))
(define (message-of thunk) (guard (e ((error? e) (error-message e)) (true (list :raised e))) (thunk) :no-error))
'

on_pg() { [ -n "$STORE_URL" ]; }

# use_store NAME — sets D to the store of a group of checks: $WORK/NAME, or
# on PostgreSQL a fresh schema named after NAME.
use_store() {
  if on_pg; then
    D=$(url_with_schema "$STORE_URL" "${SCHEMA_PREFIX}_${1//-/_}")
    SCHEMAS+=("$D")
  else
    D=$WORK/$1
  fi
}

# run STORE [--sync MODE] EXPR — one sx process; sets OUT, ERR, RC.
run() {
  local dir=$1
  shift
  local args=()
  if [ "$1" = "--sync" ]; then args=(--sync "$2"); shift 2; fi
  OUT=$("$SX" --store "$dir" "${args[@]}" -e "$PRELUDE $1" 2>"$WORK/stderr")
  RC=$?
  ERR=$(cat "$WORK/stderr")
}

# expect NAME WANT STORE [--sync MODE] EXPR — passes when sx exits 0 printing WANT.
expect() {
  local name=$1 want=$2
  shift 2
  run "$@"
  if [ "$RC" -eq 0 ] && [ "$OUT" = "$want" ]; then
    ok "$name"
  else
    bad "$name" "want: $want" "got:  $OUT (exit $RC)" "stderr: $ERR"
  fi
}

# step STORE EXPR — a setup process that must succeed; a failure fails CHECK.
step() {
  run "$@"
  if [ "$RC" -ne 0 ]; then
    STEP_FAILED="exit $RC: $ERR"
    return 1
  fi
  return 0
}

# whole_ok WHEN STORE — the store is whole: `sx store verify` passes on a
# directory; on PostgreSQL `sx store export` reads it all, and a fresh schema
# importing that export exports the same bytes.
whole_ok() {
  local name out rc
  if ! on_pg; then
    name="sx store verify passes $1"
    out=$("$SX" store verify "$2" 2>&1)
    rc=$?
    if [ "$rc" -eq 0 ] && [[ "$out" == ok:* ]]; then ok "$name"; else bad "$name" "exit $rc: $out"; fi
    return
  fi
  name="sx store export reads every event and key $1, and a fresh schema importing them exports the same"
  local copy=${2%%schema=*}schema=${2##*schema=}_copy
  SCHEMAS+=("$copy")
  if ! out=$("$SX" store export "$2" 2>&1 >"$WORK/one.jsonl"); then
    bad "$name" "export: $out"
  elif ! out=$("$SX" store import "$copy" "$WORK/one.jsonl" 2>&1); then
    bad "$name" "import into $(url_for_messages "$copy"): $out"
  elif ! out=$("$SX" store export "$copy" 2>&1 >"$WORK/two.jsonl"); then
    bad "$name" "export of the copy: $out"
  elif ! cmp -s "$WORK/one.jsonl" "$WORK/two.jsonl"; then
    bad "$name" "the copy's export differs: $(diff "$WORK/one.jsonl" "$WORK/two.jsonl" | head -c 600)"
  else
    ok "$name ($(wc -l <"$WORK/one.jsonl") lines)"
  fi
}

echo "sx: $SX"
if on_pg; then
  echo "store: $(url_for_messages "$STORE_URL"), a schema per group: ${SCHEMA_PREFIX}_*"
else
  echo "store: directories under $WORK"
fi

# --- appends and kv writes are stored ------------------------------------------
use_store basic
expect "appends are stored and read back in order" "(1 2 3)" "$D" '
  (op "persist/append" "orders" (ev "orders" 1 {:id 1}))
  (op "persist/append" "orders" (ev "orders" 2 {:id 2}))
  (op "persist/append" "orders" (ev "orders" 3 {:id 3}))
  (seqs "orders")'
expect "kv writes are stored" '({:v 1} true ("a" "k"))' "$D" '
  (op "persist/kv-put" "k" {:v 1})
  (op "persist/kv-put" "a" 0)
  (list (op "persist/kv-get" "k") (op "persist/kv-has?" "k") (op "persist/kv-keys"))'
expect "kv delete removes the key, also after a restart" '(nil false ("k"))' "$D" '
  (op "persist/kv-delete" "a")
  (list (op "persist/kv-get" "a") (op "persist/kv-has?" "a") (op "persist/kv-keys"))'
expect "stored events keep every field" \
  '({:at 1 :data {:id 1} :seq 1 :stream "orders" :type "t"} 3)' "$D" '
  (list (first (op "persist/read" "orders")) (op "persist/last-seq" "orders"))'
expect "a stale seq is refused with a conflict error naming the stream" \
  '"persist/append: stream \"orders\": conflict: seq 3 is not above the last seq 3 (expected 4)"' "$D" '
  (message-of (fn () (op "persist/append" "orders" (ev "orders" 3 :dup))))'

# --- last-seq keeps rising across truncation ------------------------------------
use_store trunc
expect "last-seq survives truncating everything" '(5 () 6 (6))' "$D" '
  (for-each (fn (i) (op "persist/append" "s" (ev "s" i i))) (list 1 2 3 4 5))
  (op "persist/truncate-through" "s" 5)
  (let ((after (op "persist/last-seq" "s")) (left (seqs "s")))
    (op "persist/append" "s" (ev "s" 6 6))
    (list after left (op "persist/last-seq" "s") (seqs "s")))'
expect "last-seq after truncation survives a restart; an old seq stays refused" \
  '(6 (6) true)' "$D" '
  (list (op "persist/last-seq" "s") (seqs "s")
        (string? (message-of (fn () (op "persist/append" "s" (ev "s" 2 :old))))))'

# --- the stream catalog survives full compaction --------------------------------
use_store compact
# compact STORE — one full compaction by a process of its own: `sx store
# compact` on a directory; the persist/compact op on PostgreSQL (the server
# has no offline tool of sx's).
compact() {
  if on_pg; then
    "$SX" --store "$1" -e '(perform {:op "persist/compact" :args ()})' 2>&1 >/dev/null
  else
    "$SX" store compact "$1" 2>&1
  fi
}
if on_pg; then
  CHECK="the stream catalog, hwms and data survive compaction (persist/compact in a process of its own)"
else
  CHECK="the stream catalog, hwms and data survive full compaction (sx store compact)"
fi
if step "$D" '
    (for-each (fn (i) (op "persist/append" "a" (ev "a" i (str "a" i)))) (range 1 21))
    (for-each (fn (i) (op "persist/append" "b" (ev "b" i i))) (range 1 11))
    (op "persist/truncate-through" "b" 10)
    (op "persist/truncate-through" "a" 15)
    (op "persist/kv-put" "k" "v")
    (op "persist/kv-put" "gone" 1)
    (op "persist/kv-delete" "gone")'; then
  cout=$(compact "$D")
  crc=$?
  # Run it twice: the second pass compacts the copies of the first.
  cout2=$(compact "$D")
  crc2=$?
  run "$D" '(list (op "persist/streams") (op "persist/last-seq" "a") (op "persist/last-seq" "b")
                  (seqs "a") (seqs "b") (op "persist/kv-keys") (op "persist/kv-get" "k"))'
  want='(("a" "b") 20 10 (16 17 18 19 20) () ("k") "v")'
  if [ "$crc" -eq 0 ] && [ "$crc2" -eq 0 ] && [ "$RC" -eq 0 ] && [ "$OUT" = "$want" ]; then
    ok "$CHECK"
  else
    bad "$CHECK" "compact: exit $crc: $cout / exit $crc2: $cout2" "want: $want" "got:  $OUT (exit $RC) $ERR"
  fi
else
  bad "$CHECK" "setup: $STEP_FAILED"
fi
expect "after compaction appends continue above the hwm (persist/compact op too)" \
  '(("a" "b") 11 (11) 21)' "$D" '
  (op "persist/compact")
  (op "persist/append" "b" (ev "b" 11 11))
  (op "persist/append" "a" (ev "a" 21 21))
  (list (op "persist/streams") (op "persist/last-seq" "b") (seqs "b") (op "persist/last-seq" "a"))'
whole_ok "after compaction" "$D"

# --- kv round-trips every kind of value -----------------------------------------
use_store values
VALUES='(list nil true false 0 1 -7 9223372036854775807 -9223372036854775808
  3.5 -0.0 0.1 1e-300 1.7976931348623157e308 ##NaN ##Inf ##-Inf
  "" "plain" "quote \" backslash \\ newline \n tab \t" "\u{e9}\u{1F600}" "nul \0 and \xff\xfe raw bytes"
  (quote sym) (quote persist/append) (quote |with space|) :kw :a/b
  () (list 1 2 3) (list (list) (list nil) (list 1 (list 2 (list 3))))
  {} {:a 1 :b "two" :c (list 3) :d {:e {:f nil}}} {"key with space" 1 "" 2 "\xff" 3}
  (list {:stream "s" :seq 1 :type "t" :at 1.5 :data {:nested (list true false nil)}}))'
CHECK="kv round-trips every kind of value across a restart (equal? and inspect text)"
if step "$D" "
    (define vals $VALUES)
    (let loop ((i 0) (vs vals))
      (unless (empty? vs)
        (op \"persist/kv-put\" (str \"v\" i) (first vs))
        (loop (+ i 1) (rest vs))))
    (len vals)"; then
  n=$OUT
  run "$D" "
    (define vals $VALUES)
    (let loop ((i 0) (vs vals) (bad ()))
      (if (empty? vs)
          (list (len (op \"persist/kv-keys\")) (reverse bad))
          (let ((got (op \"persist/kv-get\" (str \"v\" i))))
            (loop (+ i 1) (rest vs)
                  (if (and (equal? got (first vs)) (equal? (inspect got) (inspect (first vs)))
                           (op \"persist/kv-has?\" (str \"v\" i)))
                      bad
                      (cons (list i (first vs) got) bad))))))"
  if [ "$RC" -eq 0 ] && [ "$OUT" = "($n ())" ]; then
    ok "$CHECK ($n values)"
  else
    bad "$CHECK" "want: ($n ())  (keys, mismatches)" "got:  $OUT (exit $RC) $ERR"
  fi
else
  bad "$CHECK" "setup: $STEP_FAILED"
fi
expect "events round-trip every kind of value as :data" '0' "$D" "
  (define vals $VALUES)
  (let loop ((i 1) (vs vals))
    (unless (empty? vs)
      (op \"persist/append\" \"values\" (ev \"values\" i (first vs)))
      (loop (+ i 1) (rest vs))))
  (%persist-restart)
  (len (filter (fn (p) (not (equal? (first p) (get (second p) :data))))
               (map (fn (i) (list (get vals i) (get (op \"persist/read\" \"values\") i)))
                    (range (len vals)))))"
expect "a value with no data form (a function) is refused, never stored as nil" '(true false)' "$D" '
  (list (includes? (message-of (fn () (op "persist/kv-put" "f" (fn (x) x)))) "cannot store")
        (op "persist/kv-has?" "f"))'
expect "long and odd keys and stream names (64 KiB, slashes, NUL) round-trip" '(true true)' "$D" '
  (define big (apply str (map (fn (i) "abcdefgh/..\0") (range 5500))))
  (op "persist/kv-put" big 1)
  (op "persist/append" big (ev big 1 :x))
  (%persist-restart)
  (list (equal? 1 (op "persist/kv-get" big)) (equal? 1 (op "persist/last-seq" big)))'

# --- everything survives a real process restart ---------------------------------
use_store restart
if step "$D" '
    (op "persist/append" "r" (ev "r" 1 "one"))
    (op "persist/append" "r" (ev "r" 2 "two"))
    (op "persist/append" "other" (ev "other" 1 nil))
    (op "persist/kv-put" "counter" 2)'; then
  expect "a fresh process reads what the last one wrote" '((1 2) ("one" "two") 2 2 ("other" "r"))' "$D" '
    (list (seqs "r") (map (fn (e) (get e :data)) (op "persist/read" "r"))
          (op "persist/last-seq" "r") (op "persist/kv-get" "counter") (op "persist/streams"))'
  expect "a fresh process continues the seqs" '(1 2 3)' "$D" '
    (op "persist/append" "r" (ev "r" (+ 1 (op "persist/last-seq" "r")) "three"))
    (op "persist/kv-put" "counter" 3)
    (seqs "r")'
  expect "and the next one sees the continuation" '((1 2 3) 3)' "$D" '
    (list (seqs "r") (op "persist/kv-get" "counter"))'
else
  bad "a real process restart keeps everything" "setup: $STEP_FAILED"
fi
for mode in batch never; do
  use_store restart-$mode
  if step "$D" --sync $mode '
      (for-each (fn (i) (op "persist/append" "s" (ev "s" i i))) (range 1 51))
      (op "persist/kv-put" "n" 50)'; then
    expect "sync=$mode: a clean exit loses nothing" '(50 50 50)' "$D" '
      (list (op "persist/last-seq" "s") (len (op "persist/read" "s")) (op "persist/kv-get" "n"))'
  else
    bad "sync=$mode: a clean exit loses nothing" "setup: $STEP_FAILED"
  fi
done

# --- blobs -----------------------------------------------------------------------
use_store blobs
expect "blob round-trip (any bytes)" '(true true true false nil)' "$D" '
  (define bytes "blob \0 \xff\xfe bytes\n")
  (define cid (op "blob/put" bytes "application/octet-stream"))
  (list (starts-with? cid "b") (equal? bytes (op "blob/get" cid)) (op "blob/has?" cid)
        (op "blob/has?" "bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        (op "blob/get" "bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"))'
expect "the cid is the IPFS CIDv1 of the bytes" '"bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"' "$D" '
  (op "blob/put" "hello world\n" "text/plain")'
# blob_count STORE — the blobs stored: files in blobs/ of a directory, the
# server's count (persist/stats :blobs) on PostgreSQL.
blob_count() {
  if on_pg; then
    "$SX" --store "$1" -e '(get (perform {:op "persist/stats" :args ()}) :blobs)'
  else
    find "$1/blobs" -type f | wc -l
  fi
}
if on_pg; then
  CHECK="same bytes give the same cid and are stored once (persist/stats :blobs), across processes"
else
  CHECK="same bytes give the same cid and one file, across processes"
fi
nbefore=$(blob_count "$D")
run "$D" '(op "blob/put" "same bytes" "text/plain")'
cid1=$OUT
run "$D" '(list (op "blob/put" "same bytes" "text/plain") (op "blob/put" "same bytes" "application/x"))'
nfiles=$(blob_count "$D")
if [ "$RC" -eq 0 ] && [ "$OUT" = "($cid1 $cid1)" ] && [ "$nfiles" -eq $((nbefore + 1)) ] &&
   { on_pg || [ -f "$D/blobs/${cid1//\"/}" ]; }; then
  ok "$CHECK"
else
  bad "$CHECK" "first: $cid1, then: $OUT (exit $RC) $ERR" "blobs stored: $nfiles, before: $nbefore (want one more)"
fi
CHECK="a blob and its ref in kv survive a restart"
if step "$D" '
    (define bytes (apply str (map (fn (i) (str i "\xff\0")) (range 3000))))
    (define cid (op "blob/put" bytes "application/octet-stream"))
    (op "persist/kv-put" "doc" {:cid cid :size (len bytes) :mime "application/octet-stream"})'; then
  expect "$CHECK" '(true true)' "$D" '
    (define bytes (apply str (map (fn (i) (str i "\xff\0")) (range 3000))))
    (define ref (op "persist/kv-get" "doc"))
    (list (equal? bytes (op "blob/get" (get ref :cid))) (= (len bytes) (get ref :size)))'
else
  bad "$CHECK" "setup: $STEP_FAILED"
fi
whole_ok "with blobs" "$D"

# --- the reference's data-loss repro ------------------------------------------------
use_store repro-raw
expect "data-loss repro through raw perform ops: three appends give (3 3 3)" '(3 3 3)' "$D" '
  (for-each (fn (i) (op "persist/append" "s" (ev "s" (+ 1 (op "persist/last-seq" "s")) i))) (range 3))
  (list (op "persist/last-seq" "s") (len (op "persist/read" "s")) (len (op "persist/read" "s")))'
expect "data-loss repro through raw perform ops, after a restart: (3 3 3)" '(3 3 3)' "$D" '
  (list (op "persist/last-seq" "s") (len (op "persist/read" "s")) (len (seqs "s")))'

use_store repro-lib
run "$D" '(import persist) (fn? persist/durable-backend)'
if [ "$RC" -ne 0 ] || [ "$OUT" != "true" ]; then
  why="(import persist) does not provide persist/durable-backend: ${ERR:-$OUT}"
  skip "data-loss repro through the persist library's durable backend" "$why"
  skip "persist library: a restart keeps the log and continues the seqs" "$why"
else
  expect "data-loss repro through the persist library's durable backend: (3 3 3)" '(3 3 3)' "$D" '
    (import persist)
    (define b (persist/durable-backend))
    (persist/append b "s" "t" 1 {:n 1})
    (persist/append b "s" "t" 2 {:n 2})
    (persist/append b "s" "t" 3 {:n 3})
    (list (persist/last-seq b "s") (persist/count b "s") (len (persist/read b "s")))'
  expect "persist library: a restart keeps the log and continues the seqs" '(3 4 (1 2 3 4) 7)' "$D" '
    (import persist)
    (define b (persist/durable-backend))
    (define before (persist/last-seq b "s"))
    (define e (persist/append b "s" "t" 4 {:n 4}))
    (persist/kv-put b "k" 7)
    (list before (persist/event-seq e) (map persist/event-seq (persist/read b "s")) (persist/kv-get b "k"))'
fi

# --- an op no handler serves is an error --------------------------------------------
use_store unknown
CHECK="an op no handler serves is an error (exit 1, named), never nil"
run "$D" '(op "persist/frobnicate" 1)'
if [ "$RC" -eq 1 ] && [[ "$ERR" == *'no handler for op "persist/frobnicate"'* ]] && [ -z "$OUT" ]; then
  ok "$CHECK"
else
  bad "$CHECK" "exit $RC, stdout: $OUT" "stderr: $ERR"
fi
expect "an unserved op raises a catchable error inside the script" '"no handler for op \"blob/frobnicate\""' "$D" '
  (message-of (fn () (op "blob/frobnicate")))'
expect "a bad argument is an SX error naming the op, not a crash" \
  '("persist/append: stream \"s\": the event'"'"'s :seq must be a positive integer, got 0" "persist/kv-get: expected 1 argument, got 0")' "$D" '
  (list (message-of (fn () (op "persist/append" "s" (ev "s" 0 nil))))
        (message-of (fn () (op "persist/kv-get"))))'

# --- a second writer on the same directory is refused ------------------------------------
# On PostgreSQL many writers share a schema (row locks, no LOCK file): there
# the second writer must get in, and neither writer's writes may be lost.
use_store locked
if on_pg; then
  CHECK="a second writer beside a running one is let in (PostgreSQL takes many writers)"
else
  CHECK="a second writer on the same directory is refused with a clear message"
fi
mkfifo "$WORK/holder.in"
"$SX" --store "$D" --repl <"$WORK/holder.in" >"$WORK/holder.out" 2>&1 &
HOLDER_PID=$!
exec 3>"$WORK/holder.in"
echo '(perform {:op "persist/kv-put" :args (list "held" 1)})' >&3
for _ in $(seq 1 100); do
  # the answer 1 of the kv-put (not the 1 in the banner): the holder has the lock
  grep -Eq "(^|> )1$" "$WORK/holder.out" 2>/dev/null && break
  sleep 0.05
done
run "$D" '(op "persist/kv-put" "second" 2)'
if on_pg; then
  if [ "$RC" -eq 0 ] && [ "$OUT" = 2 ]; then
    ok "$CHECK"
  else
    bad "$CHECK" "holder pid $HOLDER_PID, its output: $(cat "$WORK/holder.out")" "second writer: exit $RC, $OUT" "stderr: $ERR"
  fi
elif [ "$RC" -eq 1 ] && [[ "$ERR" == *"locked by pid $HOLDER_PID"* ]]; then
  ok "$CHECK"
else
  bad "$CHECK" "holder pid $HOLDER_PID, its output: $(cat "$WORK/holder.out")" "second writer: exit $RC, $OUT" "stderr: $ERR"
fi
echo '(perform {:op "persist/kv-put" :args (list "held" 2)})' >&3
exec 3>&-
wait "$HOLDER_PID"
HOLDER_PID=
if on_pg; then
  expect "once the holder exits the next writer sees both writers' writes" '(2 2 3)' "$D" '
    (op "persist/kv-put" "after" 3)
    (list (op "persist/kv-get" "held") (op "persist/kv-get" "second") (op "persist/kv-get" "after"))'
else
  expect "once the holder exits the next writer gets in, and the holder's writes are there" \
    '(2 false 3)' "$D" '
    (op "persist/kv-put" "after" 3)
    (list (op "persist/kv-get" "held") (op "persist/kv-has?" "second") (op "persist/kv-get" "after"))'
fi

# --- a torn tail ----------------------------------------------------------------------------
# last_record DIR — "segment offset bytes" of the last record in the log.
last_record() {
  "$SX" store dump "$1" --json | tail -n 1 |
    sed -E 's/^\{"segment":"([^"]+)","offset":([0-9]+),"type":"[^"]+","bytes":([0-9]+).*/\1 \2 \3/'
}
TORN_SETUP='
    (for-each (fn (i) (op "persist/append" "s" (ev "s" i (str "event " i)))) (range 1 11))
    (op "persist/kv-put" "k" 10)
    (op "persist/append" "s" (ev "s" 11 "the torn one"))'
torn_setup() { step "$1" "$TORN_SETUP"; }
# torn_setup_crashed DIR — the same writes, then the writer is killed (a
# torn tail can only follow a crash: a clean close records where the log
# ends, and then records missing from its end are damage).
torn_setup_crashed() {
  local linebuf=()
  command -v stdbuf >/dev/null 2>&1 && linebuf=(stdbuf -oL)
  "${linebuf[@]}" "$SX" --store "$1" -e "$PRELUDE $TORN_SETUP (println \"written\") (let spin ((i 0)) (spin (+ i 1)))" \
    >"$WORK/setup.out" 2>"$WORK/setup.err" &
  local pid=$! found=1
  for _ in $(seq 1 200); do
    grep -q '^written$' "$WORK/setup.out" 2>/dev/null && { found=0; break; }
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  STEP_FAILED="the writer did not finish: $(head -c 300 "$WORK/setup.err")"
  return $found
}
# On PostgreSQL a killed writer leaves no torn record (the server commits a
# transaction whole or not at all): the same kill must lose nothing, and
# the checks of damaged segment files have nothing to act on.
if on_pg; then
  use_store killed
  CHECK="every write of a writer killed with kill -9 is read back, and the next process continues"
  if torn_setup_crashed "$D"; then
    expect "$CHECK" \
      '(((1 2 3 4 5 6 7 8 9 10 11) ("event 1" "event 2" "event 3" "event 4" "event 5" "event 6" "event 7" "event 8" "event 9" "event 10" "the torn one") 10) (1 2 3 4 5 6 7 8 9 10 11 12))' "$D" '
      (define before (list (seqs "s") (map (fn (e) (get e :data)) (op "persist/read" "s")) (op "persist/kv-get" "k")))
      (op "persist/append" "s" (ev "s" 12 "after"))
      (list before (seqs "s"))'
  else
    bad "$CHECK" "setup: $STEP_FAILED"
  fi
  why="the embedded store's segment files (a PostgreSQL store has none; the server keeps its WAL)"
  skip "sx store verify passes after a torn tail is cut off" "$why"
  skip "the last record zeroed in a cleanly closed store is refused, naming the file" "$why"
  skip "a segment file cut short is reported by verify and refused on open, naming the file" "$why"
  summary
  exit
fi

use_store torn-zeroed
CHECK="a torn tail (the last record half-written, as a crash leaves it) is recovered"
if torn_setup_crashed "$D"; then
  read -r seg off bytes < <(last_record "$D")
  dd if=/dev/zero of="$D/$seg" bs=1 seek=$((off + bytes / 2)) count=$((bytes - bytes / 2)) conv=notrunc status=none
  vout=$("$SX" store verify "$D" 2>&1)
  vrc=$?
  run "$D" '
    (define before (list (seqs "s") (map (fn (e) (get e :data)) (op "persist/read" "s")) (op "persist/kv-get" "k")))
    (op "persist/append" "s" (ev "s" 11 "again"))
    (list before (seqs "s") (get (op "persist/stats") :recovered-torn-bytes))'
  cut=$((bytes / 2))
  want='(((1 2 3 4 5 6 7 8 9 10) ("event 1" "event 2" "event 3" "event 4" "event 5" "event 6" "event 7" "event 8" "event 9" "event 10") 10) (1 2 3 4 5 6 7 8 9 10 11) '$cut')'
  # verify names the file, offset and byte count and exits 3 (not ok); the
  # open that cuts the tail says so on stderr and counts it in persist/stats.
  if [ "$RC" -eq 0 ] && [ "$OUT" = "$want" ] && [ "$vrc" -eq 3 ] && [[ "$vout" != *"ok:"* ]] &&
     [[ "$vout" == *"$seg offset $off: torn tail: $cut bytes"* ]] &&
     [[ "$ERR" == *"cut off at open: torn tail in $seg at offset $off: $cut bytes"* ]]; then
    ok "$CHECK"
  else
    bad "$CHECK" "verify (exit $vrc): $vout" "want: $want" "got:  $OUT (exit $RC) $ERR"
  fi
  whole_ok "after a torn tail is cut off" "$D"
else
  bad "$CHECK" "setup: $STEP_FAILED"
fi

# After a clean close the store knows where its log ends: the same damage
# is records gone from the end, not a torn write.
use_store zeroed-after-close
CHECK="the last record zeroed in a cleanly closed store is refused, naming the file"
if torn_setup "$D"; then
  read -r seg off bytes < <(last_record "$D")
  dd if=/dev/zero of="$D/$seg" bs=1 seek="$off" count="$bytes" conv=notrunc status=none
  vout=$("$SX" store verify "$D" 2>&1)
  vrc=$?
  run "$D" '(seqs "s")'
  if [ "$vrc" -eq 1 ] && [[ "$vout" == *"$seg"*"records at its end are gone"* ]] &&
     [ "$RC" -eq 1 ] && [[ "$ERR" == *"cannot open the store at"*"$seg"*"records at its end are gone"* ]]; then
    ok "$CHECK"
  else
    bad "$CHECK" "verify (exit $vrc): $vout" "open: $OUT (exit $RC) $ERR"
  fi
else
  bad "$CHECK" "setup: $STEP_FAILED"
fi

# A segment file never gets shorter than its header and extent records say,
# so a crash never makes one shorter: a file cut mid-record is damage, not a
# torn tail.
use_store torn-cut
CHECK="a segment file cut short is reported by verify and refused on open, naming the file"
if torn_setup "$D"; then
  read -r seg off bytes < <(last_record "$D")
  truncate -s $((off + bytes / 2)) "$D/$seg"
  vout=$("$SX" store verify "$D" 2>&1)
  vrc=$?
  run "$D" '(seqs "s")'
  if [ "$vrc" -eq 1 ] && [[ "$vout" == *"$seg offset $((off + bytes / 2)): the file is"* ]] &&
     [ "$RC" -eq 1 ] && [[ "$ERR" == *"cannot open the store at"*"$seg"*"its end was cut off"* ]]; then
    ok "$CHECK"
  else
    bad "$CHECK" "verify (exit $vrc): $vout" "open: $OUT (exit $RC) $ERR"
  fi
else
  bad "$CHECK" "setup: $STEP_FAILED"
fi

summary
