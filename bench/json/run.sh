#!/usr/bin/env bash
# run.sh — JSON against Python 3's json module, in the same run.
#
#   bench/json/run.sh [MB [WRITE_EVENTS [ROUNDS]]]      (default 100 200000 3)
#
# Writes MB megabytes of JSONL order events to a temporary file, then:
#   read:  json-read of every line, the file streamed with fold-lines, against
#          json.loads of every line of the file; and the peak resident memory
#          of the sx process against the size of the file;
#   write: json-write of WRITE_EVENTS events held in memory, against
#          json.dumps (compact separators and UTF-8 text, as json-write writes).
# Prints each side's best time of ROUNDS and the ratios (sx/python: below 1
# is faster); the peak memory is the largest of the sx read runs.
# Uses $SX (default build/sx) and python3.
set -euo pipefail
SX=${SX:-build/sx}
MB=${1:-100}
N=${2:-200000}
ROUNDS=${3:-3}
here=$(dirname "$0")
dir=$(mktemp -d "${TMPDIR:-/tmp}/sx-json-bench-XXXXXX")
trap 'rm -rf "$dir"' EXIT
file="$dir/events.jsonl"
python3 "$here/gen_events.py" "$file" "$MB"
bytes=$(wc -c < "$file")
echo "sx: $SX; input: $bytes bytes, $(wc -l < "$file") events"

# peak_kb CMD... : runs CMD, prints its output, then its peak RSS in KiB.
peak_kb() {
  python3 -c '
import resource, subprocess, sys
out = subprocess.run(sys.argv[1:], check=True, capture_output=True, text=True).stdout
print(out, end="")
print("peak_kb", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
}

# Each side runs ROUNDS times, alternating, and the fastest run counts: on a
# shared machine the other processes only ever add time.
best() {  # best FIELD LINES... : the smallest FIELD-th word of the "read"/"write" lines
  printf '%s\n' "$@" | awk -v f="$1" 'NR > 1 && ($1 == "read" || $1 == "write") {
    if (min == "" || $f < min) { min = $f; line = $0 } } END { print line }'
}
sx_reads=(); py_reads=(); sx_writes=(); py_writes=()
kb=0
for round in $(seq "$ROUNDS"); do
  out=$(peak_kb "$SX" "$here/read_bench.sx" "$file")
  sx_reads+=("$out")
  k=$(echo "$out" | awk '/^peak_kb/ {print $2}')
  [ "$k" -gt "$kb" ] && kb=$k
  py_reads+=("$(python3 "$here/baseline.py" read "$file")")
  sx_writes+=("$("$SX" "$here/write_bench.sx" "$file" "$N")")
  py_writes+=("$(python3 "$here/baseline.py" write "$file" "$N")")
done
sx_read=$(best 3 "${sx_reads[@]}")
py_read=$(best 3 "${py_reads[@]}")
sx_write=$(best 3 "${sx_writes[@]}")
py_write=$(best 3 "${py_writes[@]}")
echo "  sx      $sx_read"
echo "  python  $py_read"
echo "  sx      $sx_write"
echo "  python  $py_write"
sx_sum=$(echo "${sx_reads[0]}" | sed -n 's/^checksum //p')
py_sum=$(echo "${py_reads[0]}" | sed -n 's/^checksum //p')
[ "$sx_sum" = "$py_sum" ] || { echo "checksums differ: $sx_sum vs $py_sum"; exit 1; }
sx_w_bytes=$(echo "$sx_write" | awk '{print $4}')
py_w_bytes=$(echo "$py_write" | awk '{print $4}')
[ "$sx_w_bytes" = "$py_w_bytes" ] || echo "  (note: output sizes differ: $sx_w_bytes vs $py_w_bytes bytes)"

sx_r=$(echo "$sx_read" | awk '{print $3}')
py_r=$(echo "$py_read" | awk '{print $3}')
sx_w=$(echo "$sx_write" | awk '{print $3}')
py_w=$(echo "$py_write" | awk '{print $3}')
printf 'json-read  sx/python time: %.3f / %.3f s = %.2f  (%.0f MB/s vs %.0f MB/s)\n' "$sx_r" "$py_r" \
  "$(echo "$sx_r / $py_r" | bc -l)" "$(echo "$bytes / $sx_r / 1000000" | bc -l)" \
  "$(echo "$bytes / $py_r / 1000000" | bc -l)"
printf 'json-write sx/python time: %.3f / %.3f s = %.2f\n' "$sx_w" "$py_w" \
  "$(echo "$sx_w / $py_w" | bc -l)"
printf 'json-read  peak memory / input: %d KiB / %d KiB = %.2f\n' "$kb" "$((bytes / 1024))" \
  "$(echo "$kb * 1024 / $bytes" | bc -l)"
