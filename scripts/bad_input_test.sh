#!/usr/bin/env bash
# bad_input_test.sh — damaged and hostile stores, through the sx binary.
#
#   SX=path/to/sx scripts/bad_input_test.sh [--seed S]
#
# A golden store (several 4 KiB segments, two streams, kv, blobs) is copied
# and damaged one way per case: every file truncated at random lengths,
# bytes flipped at random offsets, a file replaced by garbage, a segment or a
# blob deleted; then a directory sx may not write and a full disk. For each
# case:
#   - `sx store verify` must report the damage with a non-zero exit;
#   - opening must either recover (everything it then returns is data the
#     golden store holds: nothing wrong, only possibly less) and accept new
#     writes, or refuse with a clear message ("cannot open the store at ...");
#   - nothing may crash (a signal, an exit above 2) or hang (30 s).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SX=${SX:-$ROOT/build/sx}
SEED=${SEED:-$$}
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) SEED=$2; shift 2 ;;
    *) echo "usage: bad_input_test.sh [--seed S]" >&2; exit 2 ;;
  esac
done
if [ ! -x "$SX" ]; then
  echo "bad_input_test: no sx binary at $SX (build it, or set SX)" >&2
  exit 2
fi
RANDOM=$SEED
# Small segments: the golden store spans several of them, and a write that
# rolls to a new segment creates 4 KiB, not 64 MiB.
export SX_PERSIST_SEGMENT_BYTES=4096
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sx-badinput.XXXXXX")
MOUNTS=()
IMMUTABLE=()
cleanup() {
  local m
  for m in "${IMMUTABLE[@]}"; do chattr -i "$m" 2>/dev/null; done
  for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
  chmod -R u+rwx "$WORK" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# shellcheck source=scripts/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

T() { timeout 30 "$@"; }

# The listing: everything a user can read, one fact per line.
LISTING='
(define (op name &rest args) (perform {:op name :args args}))
(for-each (fn (s)
            (println "last" (inspect s) (op "persist/last-seq" s))
            (for-each (fn (e) (println "event" (inspect s) (inspect e))) (op "persist/read" s)))
          (op "persist/streams"))
(for-each (fn (k)
            (let ((v (op "persist/kv-get" k)))
              (println "kv" (inspect k) (inspect v))
              (when (and (string? v) (starts-with? v "bafk"))
                (println (guard (e (true (str "blob-error " v " " (error-message e))))
                           (str "blob " v " " (inspect (op "blob/get" v))))))))
          (op "persist/kv-keys"))
(op "persist/kv-put" "written-after-recovery" true)
(println "write ok")'

# --- the golden store ---------------------------------------------------------------
# Three phases of writes over 4 KiB segments (SX_PERSIST_SEGMENT_BYTES above).
GOLD=$WORK/golden
: >"$WORK/history.list"
seg_end() {  # the offset just past the last record of a segment
  "$SX" store dump "$GOLD" --json | grep "\"segment\":\"$1\"" | tail -n 1 |
    sed -E 's/.*"offset":([0-9]+),"type":"[^"]+","bytes":([0-9]+).*/\1 \2/' | { read -r o b; echo $((o + b)); }
}
phase() {
  if ! out=$("$SX" --data-dir "$GOLD" -e "
      (define (op name &rest args) (perform {:op name :args args}))
      (define (ev s n) {:stream s :seq n :type \"t\" :at n :data (str s \"-\" n \"-payload-0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghij\")})
      $1" 2>&1); then
    echo "bad_input_test: cannot build the golden store: $out" >&2
    exit 1
  fi
  # What a reader sees now: a state some damage at the tail may go back to.
  T "$SX" --data-dir "$GOLD" -e "$LISTING" 2>/dev/null | grep -v '^write ok$' >>"$WORK/history.list"
}
phase '
  (for-each (fn (i) (op "persist/append" "a" (ev "a" i))) (range 1 31))
  (for-each (fn (i) (op "persist/append" "b" (ev "b" i))) (range 1 11))
  (for-each (fn (i) (op "persist/kv-put" (str "k" i) {:i i :s (str "value " i)})) (range 1 11))
  (op "persist/kv-put" "blob1" (op "blob/put" "first blob \0\xff" "x"))'
phase '
  (for-each (fn (i) (op "persist/append" "a" (ev "a" i))) (range 31 51))
  (op "persist/truncate-through" "b" 2)
  (for-each (fn (i) (op "persist/kv-put" (str "k" i) {:i i})) (range 11 16))
  (op "persist/kv-put" "blob2" (op "blob/put" "second blob" "x"))'
phase '
  (for-each (fn (i) (op "persist/append" "a" (ev "a" i))) (range 51 61))
  (op "persist/kv-put" "k1" "new")
  (op "persist/kv-delete" "k2")'
GOLD_LIST=$WORK/golden.list
# The listing writes a key: run it once first so the golden store has it.
T "$SX" --data-dir "$GOLD" -e "$LISTING" >/dev/null 2>&1
if ! T "$SX" --data-dir "$GOLD" -e "$LISTING" 2>"$WORK/err" | grep -v '^write ok$' >"$GOLD_LIST"; then
  echo "bad_input_test: cannot read the golden store: $(cat "$WORK/err")" >&2
  exit 1
fi
SEGS=($(ls "$GOLD" | grep '\.seg$'))
BLOBS=($(ls "$GOLD/blobs"))
if [ "${#SEGS[@]}" -lt 3 ] || [ "${#BLOBS[@]}" -ne 2 ] || ! vout=$("$SX" store verify "$GOLD" 2>&1); then
  echo "bad_input_test: unexpected golden store: ${SEGS[*]} / ${BLOBS[*]} / ${vout:-}" >&2
  exit 1
fi
echo "golden store: ${SEGS[*]}, ${#BLOBS[@]} blobs, $(grep -c '^event' "$GOLD_LIST") events, seed $SEED"

# damage_case NAME EXPECT SETUP-COMMAND...
#   copies the golden store to $D, runs SETUP, then checks verify and open.
#   EXPECT: "detect" — verify must fail; "harmless" — nothing was lost, verify
#   must pass and the listing must equal the golden one; "tail" — damage at
#   the end of the log, which recovery treats as a torn tail (verify notes it
#   and exits 0 by design, see docs/storage-format.md "Recovery").
n_case=0
damage_case() {
  local name=$1 expect=$2
  shift 2
  n_case=$((n_case + 1))
  D=$WORK/case-$n_case
  cp -r --sparse=always "$GOLD" "$D"
  (cd "$D" && "$@")
  local vout vrc lout lrc lerr
  vout=$(T "$SX" store verify "$D" 2>&1)
  vrc=$?
  lout=$(T "$SX" --data-dir "$D" -e "$LISTING" 2>"$WORK/err")
  lrc=$?
  lerr=$(cat "$WORK/err")
  local why=()
  [ "$vrc" -gt 2 ] && why+=("verify crashed or hung (exit $vrc): $vout")
  [ "$lrc" -gt 2 ] && why+=("open crashed or hung (exit $lrc): $lerr")
  # Whatever was read must be golden data (blob errors are refusals, not data).
  local wrong=""
  if [ "$lrc" -le 1 ]; then
    # After damage at the tail, older values (an earlier state) may come back.
    local allowed=$GOLD_LIST
    [ "$expect" = tail ] && allowed=$WORK/history.list
    wrong=$(printf '%s\n' "$lout" | grep -v -e '^write ok$' -e '^blob-error ' -e '^$' |
      grep -v -x -F -f "$GOLD_LIST" | grep -v -x -F -f "$allowed" | grep -v '^last ' | head -n 3)
    # A stream's last seq may be lower than the golden one, never higher.
    local s l gl
    while read -r _ s l; do
      gl=$(grep -F "last $s " "$GOLD_LIST" | awk '{print $NF}')
      if [ -z "$gl" ] || [ "$l" -gt "$gl" ]; then wrong+=$'\n'"last-seq of $s is $l, golden ${gl:-none}"; fi
    done < <(printf '%s\n' "$lout" | grep '^last ')
  fi
  [ -n "$wrong" ] && why+=("wrong data returned: $wrong")
  local recovered=false refused=false
  if [ "$lrc" -eq 0 ] && [[ "$lout" == *"write ok"* ]]; then
    recovered=true
  elif [ "$lrc" -eq 1 ] && [[ "$lerr" == *"cannot open the store at"* || "$lerr" == *"blob/get"* ]]; then
    refused=true
  else
    [ "$lrc" -le 2 ] && why+=("open neither recovered nor refused clearly (exit $lrc): $lerr")
  fi
  local lost=false
  if $recovered && [ "$(printf '%s\n' "$lout" | grep -v -e '^write ok$' | sort)" != "$(sort "$GOLD_LIST")" ]; then
    lost=true
  fi
  case "$expect" in
    detect)
      if [ "$vrc" -eq 0 ]; then
        if $lost; then
          why+=("verify passed (exit 0) though data was lost: $vout")
        elif $recovered; then
          # The damage hit nothing the store needs (e.g. zero padding, a byte
          # of a dead record's framing after the end): nothing to report.
          :
        else
          why+=("verify passed (exit 0) but opening refused: $vout")
        fi
      fi ;;
    harmless)
      [ "$vrc" -eq 0 ] || why+=("verify failed on harmless damage: $vout")
      $recovered && ! $lost || why+=("harmless damage lost data or refused: $lerr") ;;
    tail)
      if [ "$vrc" -ne 0 ]; then
        :
      elif [[ "$vout" != *"torn tail"* ]] && $lost; then
        why+=("data lost and verify said nothing: $vout")
      fi ;;
  esac
  local outcome
  if $recovered; then outcome=$($lost && echo "recovered the intact part" || echo "recovered everything"); else outcome="refused: ${lerr%%$'\n'*}"; fi
  if [ "${#why[@]}" -eq 0 ]; then
    local note=""
    [ "$expect" = tail ] && [ "$vrc" -eq 0 ] && note=" [verify exit 0: torn-tail note]"
    ok "$name: verify exit $vrc, $outcome$note"
  else
    bad "$name" "${why[@]}" "verify: $vout"
  fi
}

rand() { echo $(((RANDOM << 15 | RANDOM) % $1)); }
flip_byte() {  # flip_byte FILE OFFSET
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $(((b ^ (1 << (RANDOM % 8))) & 255)))" |
    dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# --- truncation ----------------------------------------------------------------------
# A segment keeps the size its header and extent records give, so any cut
# is damage, in the newest segment too and inside its zero padding.
for i in "${!SEGS[@]}"; do
  seg=${SEGS[$i]}
  end=$(seg_end "$seg")
  size=$(stat -c %s "$GOLD/$seg")
  for _ in 1 2 3; do
    len=$(rand "$end")
    damage_case "$seg truncated to $len bytes (records end at $end)" detect truncate -s "$len" "$seg"
  done
  len=$((end + 1 + $(rand $((size - end - 1)))))
  damage_case "$seg truncated to $len bytes, inside its zero padding" detect truncate -s "$len" "$seg"
done
for blob in "${BLOBS[@]}"; do
  len=$(rand "$(stat -c %s "$GOLD/blobs/$blob")")
  damage_case "blob ${blob:0:16}… truncated to $len bytes" detect truncate -s "$len" "blobs/$blob"
done
damage_case "LOCK truncated to 0 bytes" harmless truncate -s 0 "LOCK"

# --- flipped bytes -----------------------------------------------------------------------
for i in "${!SEGS[@]}"; do
  seg=${SEGS[$i]}
  end=$(seg_end "$seg")
  for _ in 1 2 3 4; do
    off=$(rand "$end")
    exp=detect
    # A flip in the last record of the last segment looks like a torn write.
    [ "$i" -eq $((${#SEGS[@]} - 1)) ] && exp=tail
    damage_case "$seg: a bit flipped at offset $off (records end at $end)" $exp flip_byte "$seg" "$off"
  done
done
for blob in "${BLOBS[@]}"; do
  off=$(rand "$(stat -c %s "$GOLD/blobs/$blob")")
  damage_case "blob ${blob:0:16}…: a bit flipped at offset $off" detect flip_byte "blobs/$blob" "$off"
done

# --- garbage ---------------------------------------------------------------------------------
for seg in "${SEGS[@]}"; do
  damage_case "$seg replaced by 4 KiB of random bytes" detect \
    dd if=/dev/urandom of="$seg" bs=4096 count=1 status=none
  damage_case "$seg replaced by an empty file" detect truncate -s 0 "$seg"
done
damage_case "blob replaced by garbage" detect dd if=/dev/urandom of="blobs/${BLOBS[0]}" bs=100 count=1 status=none
damage_case "LOCK replaced by garbage" harmless dd if=/dev/urandom of="LOCK" bs=100 count=1 status=none
damage_case "a stray file that looks like a segment (0000000099.seg, garbage)" detect \
  dd if=/dev/urandom of="0000000099.seg" bs=4096 count=1 status=none
damage_case "a blob file whose name is not its content's cid" detect \
  cp "$GOLD/blobs/${BLOBS[0]}" "blobs/${BLOBS[1]}"
# A put cut short between publishing the blob file and logging it leaves a
# file the log does not name: harmless.
ORPHAN_STORE=$WORK/orphan-source
orphan=$("$SX" --data-dir "$ORPHAN_STORE" -e '(perform {:op "blob/put" :args (list "an orphan" "x")})' | tr -d '"')
damage_case "a valid blob file the log does not record (a put cut short)" harmless \
  cp "$ORPHAN_STORE/blobs/$orphan" "blobs/$orphan"

# --- deleted files ---------------------------------------------------------------------------
# Compaction logs a retired record before it deletes a segment, a segment is
# sealed only once its successor exists, and every blob put is logged: a
# deleted segment (the newest one too) or blob is therefore reported.
for seg in "${SEGS[@]}"; do
  damage_case "$seg deleted" detect rm "$seg"
done
for blob in "${BLOBS[@]}"; do
  damage_case "blob ${blob:0:16}… deleted (its ref stays in kv)" detect rm "blobs/$blob"
done

# --- a directory sx may not write -------------------------------------------------------------
n_case=$((n_case + 1))
D=$WORK/case-$n_case
cp -r --sparse=always "$GOLD" "$D"
NAME="a data directory sx may not write"
denied=""
if [ "$(id -u)" -ne 0 ]; then
  chmod 000 "$D" && denied="chmod 000"
elif chattr +i "$D" 2>/dev/null && chattr +i "$D/LOCK" 2>/dev/null; then
  IMMUTABLE+=("$D" "$D/LOCK")
  denied="chattr +i (running as root, which ignores permissions)"
fi
if [ -z "$denied" ]; then
  skip "$NAME" "running as root and chattr +i is not supported here"
else
  lout=$(T "$SX" --data-dir "$D" -e '(perform {:op "persist/kv-put" :args (list "x" 1)})' 2>&1)
  lrc=$?
  vout=$(T "$SX" store verify "$D" 2>&1)
  vrc=$?
  if [ "$lrc" -eq 1 ] && [[ "$lout" == *"cannot open the store at"* ]] && [ "$vrc" -le 1 ]; then
    ok "$NAME ($denied): refused: ${lout%%$'\n'*}; verify exit $vrc"
  else
    bad "$NAME ($denied)" "open: exit $lrc: $lout" "verify: exit $vrc: $vout"
  fi
  for m in "${IMMUTABLE[@]}"; do chattr -i "$m"; done
  IMMUTABLE=()
  chmod 700 "$D"
  expect_out=$(T "$SX" --data-dir "$D" -e "$LISTING" 2>&1 | grep -v '^write ok$' | sort)
  if [ "$expect_out" = "$(sort "$GOLD_LIST")" ]; then
    ok "$NAME: once allowed again, everything is there"
  else
    bad "$NAME: once allowed again, everything is there" "$(diff <(echo "$expect_out") <(sort "$GOLD_LIST") | head -5)"
  fi
fi
NAME="the data directory path is a regular file"
touch "$WORK/not-a-dir"
lout=$(T "$SX" --data-dir "$WORK/not-a-dir" -e '(perform {:op "persist/kv-put" :args (list "x" 1)})' 2>&1)
lrc=$?
vout=$(T "$SX" store verify "$WORK/not-a-dir" 2>&1)
vrc=$?
if [ "$lrc" -eq 1 ] && [[ "$lout" == *"cannot open the store at"* ]] && [ "$vrc" -eq 1 ]; then
  ok "$NAME: refused: ${lout%%$'\n'*}; verify: $vout"
else
  bad "$NAME" "open: exit $lrc: $lout" "verify: exit $vrc: $vout"
fi

# --- a full disk -------------------------------------------------------------------------------
NAME="a full disk (tmpfs)"
M=$WORK/tmpfs
mkdir -p "$M"
if ! mount -t tmpfs -o size=200m tmpfs "$M" 2>"$WORK/err"; then
  skip "$NAME" "cannot mount a tmpfs here ($(cat "$WORK/err")); FullDisk.* in the acceptance gtest covers it through FaultEnv"
else
  MOUNTS+=("$M")
  D=$M/data
  # 1. A store with data; then fill the disk.
  T "$SX" --data-dir "$D" -e '
    (perform {:op "persist/append" :args (list "s" {:stream "s" :seq 1 :type "t" :at 1 :data "before"})})
    (perform {:op "persist/kv-put" :args (list "k" "before")})' >/dev/null 2>"$WORK/err" ||
    bad "$NAME: setup" "$(cat "$WORK/err")"
  dd if=/dev/zero of="$M/filler" bs=1M status=none 2>/dev/null
  # 2. Writes that need new space fail with a clear error; small writes into
  #    the preallocated segment still work; nothing crashes.
  lout=$(T "$SX" --data-dir "$D" -e '
    (define (op name &rest args) (perform {:op name :args args}))
    (define (try thunk) (guard (e ((error? e) (error-message e))) (thunk) "ok"))
    (define big (let loop ((s "0123456789abcdef") (n 0)) (if (< n 22) (loop (str s s) (+ n 1)) s)))
    (list (try (fn () (op "blob/put" "a blob that needs a new file" "x")))
          (try (fn () (op "persist/kv-put" "big" big)))
          (try (fn () (op "persist/append" "s" {:stream "s" :seq 2 :type "t" :at 2 :data "small"}))))' 2>&1)
  lrc=$?
  if [ "$lrc" -eq 0 ] && [[ "$lout" == *"No space left on device"* || "$lout" == *"no space"* ]]; then
    ok "$NAME: writes needing space fail with an SX error: ${lout:0:300}"
  else
    bad "$NAME: writes needing space fail with an SX error" "exit $lrc: ${lout:0:1000}"
  fi
  vout=$(T "$SX" store verify "$D" 2>&1)
  vrc=$?
  if [ "$vrc" -eq 0 ]; then
    ok "$NAME: the store stays intact (verify: $vout)"
  else
    bad "$NAME: the store stays intact" "verify exit $vrc: $vout"
  fi
  # 3. A new store on the full disk is refused clearly.
  lout=$(T "$SX" --data-dir "$M/new" -e '(perform {:op "persist/kv-put" :args (list "x" 1)})' 2>&1)
  lrc=$?
  if [ "$lrc" -eq 1 ] && [[ "$lout" == *"cannot open the store at"* ]]; then
    ok "$NAME: a new store on a full disk is refused: ${lout%%$'\n'*}"
  else
    bad "$NAME: a new store on a full disk is refused" "exit $lrc: $lout"
  fi
  # 4. Space comes back: everything acknowledged is there and writes work.
  rm -f "$M/filler"
  lout=$(T "$SX" --data-dir "$D" -e '
    (define (op name &rest args) (perform {:op name :args args}))
    (define s (map (fn (e) (get e :data)) (op "persist/read" "s")))
    (op "blob/put" "a blob that needs a new file" "x")
    (op "persist/append" "s" {:stream "s" :seq (+ 1 (op "persist/last-seq" "s")) :type "t" :at 3 :data "after"})
    (list s (op "persist/kv-get" "k") (len (op "persist/read" "s")))' 2>&1)
  lrc=$?
  if [ "$lrc" -eq 0 ] && [[ "$lout" == '(("before"'* ]] && [[ "$lout" == *'"before"'*'"before"'* ]]; then
    ok "$NAME: once space is back, everything acknowledged is there and writes work: $lout"
  else
    bad "$NAME: once space is back, everything acknowledged is there and writes work" "exit $lrc: $lout"
  fi
  umount "$M" && MOUNTS=()
fi

summary
