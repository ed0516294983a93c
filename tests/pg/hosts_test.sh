#!/usr/bin/env bash
# Eight sx processes, standing in for eight hosts, append to the same three
# streams on one PostgreSQL database with append-expect and batches across
# two streams (tests/pg/hosts_writer.sx), all at once. Then: every stream's
# seqs are dense from 1, no seq is held twice, every acknowledged event is at
# the seq it was acknowledged with, and every process finished (no deadlock:
# a group that waited forever would hit the timeout). Fails, never skips,
# when SX_PG_URL is unset.
#   tests/pg/hosts_test.sh SX ROOT [ROUNDS]
set -euo pipefail
sx=$1
root=$2
rounds=${3:-150}
if [ -z "${SX_PG_URL:-}" ]; then
  echo "SX_PG_URL is unset: this test needs a server (eval \"\$(scripts/pg_server.sh start)\")" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
schema="hosts_$$"
url="$SX_PG_URL"
case "$url" in *\?*) url="$url&schema=$schema" ;; *) url="$url?schema=$schema" ;; esac
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

pids=()
for w in 1 2 3 4 5 6 7 8; do
  timeout 240 "$sx" --store "$url" "$root/tests/pg/hosts_writer.sx" "w$w" "$rounds" \
    >"$tmp/out.$w" 2>"$tmp/err.$w" &
  pids+=($!)
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || fail "writer $((i + 1)) failed: $(tail -n 5 "$tmp/err.$((i + 1))")"
done
for w in 1 2 3 4 5 6 7 8; do
  grep -q "^DONE w$w " "$tmp/out.$w" || fail "writer $w did not finish"
done
cat "$tmp"/out.* | grep '^ACK ' | sort >"$tmp/acked"
"$sx" store export "$url" >"$tmp/export.jsonl" || fail "export"
python3 - "$tmp/acked" "$tmp/export.jsonl" <<'PY'
import json, sys
acked = [l.split() for l in open(sys.argv[1])]
stored = {}
for line in open(sys.argv[2]):
    r = json.loads(line)
    if r.get("kind") != "event":
        continue
    key = (r["stream"], r["seq"])
    if key in stored:
        sys.exit(f"FAIL: {key} stored twice")
    stored[key] = r["value"]["dict"]["data"]
for s in ("a", "b", "c"):
    seqs = sorted(q for (t, q) in stored if t == s)
    if seqs != list(range(1, len(seqs) + 1)):
        sys.exit(f"FAIL: stream {s} is not dense from 1: {seqs[:10]}...")
seen = set()
for _, s, q, ident in acked:
    key = (s, int(q))
    if key in seen:
        sys.exit(f"FAIL: {key} acknowledged twice")
    seen.add(key)
    if stored.get(key) != ident:
        sys.exit(f"FAIL: {ident} acknowledged at {key}, stored there: {stored.get(key)!r}")
if len(seen) != len(stored):
    sys.exit(f"FAIL: {len(stored)} events stored, {len(seen)} acknowledged")
print(f"8 processes: {len(acked)} events acknowledged, all stored at their seqs, streams dense")
PY
conflicts=$(cat "$tmp"/out.* | awk '/^DONE/ {n += $4} END {print n + 0}')
echo "conflicts met and retried: $conflicts"
