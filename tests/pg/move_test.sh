#!/usr/bin/env bash
# Moving a store onto PostgreSQL and back (sx store export | import): the
# same streams, seqs, values and kv pairs, byte for byte in the export.
# Fails, never skips, when SX_PG_URL is unset.
#   tests/pg/move_test.sh SX
set -euo pipefail
sx=$1
if [ -z "${SX_PG_URL:-}" ]; then
  echo "SX_PG_URL is unset: this test needs a server (eval \"\$(scripts/pg_server.sh start)\")" >&2
  exit 1
fi
tmp=$(mktemp -d)
schema="move_$$"
url="$SX_PG_URL"
case "$url" in *\?*) url="$url&schema=$schema" ;; *) url="$url?schema=$schema" ;; esac
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# A store with many kinds of values, a truncated stream, a stream emptied by
# truncation, kv pairs and a name holding a NUL byte.
"$sx" --data-dir "$tmp/a" -e '
(do
  (import persist)
  (let ((b (persist/durable-backend)))
    (persist/append b "orders" "placed" 1 {:id 1 :kw :k :sym (quote s) :big 9223372036854775807
                                           :neg -9223372036854775808 :f -0.0 :nan (/ 0.0 0.0)
                                           :inf (/ 1.0 0.0) :bytes "\u{e9}\u{0}" :list (list 1 (list 2))})
    (persist/append b "orders" "paid" 2 nil)
    (persist/append b "orders" "shipped" 3 (list 1 2 3))
    (persist/truncate b "orders" 1)
    (persist/append b "gone" "t" 1 1)
    (persist/truncate b "gone" 1)
    (persist/append b "a\u{0}b" "t" 1 "nul")
    (persist/kv-put b "config" {:x 1})
    (persist/kv-put b "nil-value" nil)
    nil))' >/dev/null || fail "making the store"
"$sx" store export "$tmp/a" >"$tmp/one.jsonl" || fail "export of the directory"
"$sx" store import "$url" "$tmp/one.jsonl" >/dev/null || fail "import into PostgreSQL"
"$sx" store export "$url" >"$tmp/two.jsonl" || fail "export from PostgreSQL"
cmp "$tmp/one.jsonl" "$tmp/two.jsonl" || fail "the export from PostgreSQL differs"
"$sx" store import "$tmp/b" "$tmp/two.jsonl" >/dev/null || fail "import back into a directory"
"$sx" store export "$tmp/b" | cmp - "$tmp/one.jsonl" || fail "the round trip back differs"
# Seqs that would go backwards are refused on PostgreSQL too.
if "$sx" store import "$url" "$tmp/one.jsonl" >/dev/null 2>"$tmp/err"; then fail "a second import was taken"; fi
grep -q "is not above the last seq" "$tmp/err" || fail "the refusal says: $(cat "$tmp/err")"
# The script sees the same data on PostgreSQL.
got=$("$sx" --store "$url" -e '(do (import persist) (let ((b (persist/durable-backend))) (list (persist/last-seq b "orders") (persist/last-seq b "gone") (len (persist/read b "orders")) (persist/kv-get b "config"))))')
[ "$got" = '(3 1 2 {:x 1})' ] || fail "a script on PostgreSQL reads $got"
lines=$(wc -l <"$tmp/one.jsonl")
echo "moved $lines lines to PostgreSQL and back, byte-identical"
