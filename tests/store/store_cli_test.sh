#!/usr/bin/env bash
# store_cli_test.sh — `sx store` export, import, backup, salvage and the
# tools' --json and --help from the outside: pipes, exit statuses, quiet
# stderr when piped, and a reference-host directory refused with a pointer
# to the import. SX=path/to/sx.
set -u
sx=${SX:-build/sx}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=scripts/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/checks.sh"

"$sx" --data-dir "$tmp/db" -e '(do
  (perform {:op "persist/append" :args (list "orders/eu" {:seq 1 :data {:sum 2.5 :nan (/ 0.0 0.0) :neg -0.0 :k :kw :s (quote sym)}})})
  (perform {:op "persist/append" :args (list "orders/eu" {:seq 2 :data "a\u{0}b"})})
  (perform {:op "persist/kv-put" :args (list "cfg" (list 1 9223372036854775807 -9223372036854775808))}))' >/dev/null

"$sx" store export "$tmp/db" > "$tmp/one.jsonl" 2> "$tmp/export.err"
"$sx" store import "$tmp/copy" - < "$tmp/one.jsonl" > /dev/null 2> "$tmp/import.err"
"$sx" store export "$tmp/copy" > "$tmp/two.jsonl"
if cmp -s "$tmp/one.jsonl" "$tmp/two.jsonl"; then
  ok "export | import - | export is byte-identical"
else
  bad "export | import - | export is byte-identical" "$(diff "$tmp/one.jsonl" "$tmp/two.jsonl" | head -5)"
fi
if [ ! -s "$tmp/export.err" ] && [ ! -s "$tmp/import.err" ]; then
  ok "export and import are quiet on a piped stderr"
else
  bad "export and import are quiet on a piped stderr" "$(cat "$tmp/export.err" "$tmp/import.err")"
fi
check "the header line names the format and version" 0 '{"format":"sx-store-export","version":1}' -- head -1 "$tmp/one.jsonl"
check "every line is JSON" 0 "5 lines" -- python3 -c "import json,sys; n=sum(1 for l in open(sys.argv[1]) if json.loads(l) is not None); print(n, 'lines')" "$tmp/one.jsonl"
check "import again refuses seqs that go backwards" 1 "not above the last seq 2" -- "$sx" store import "$tmp/copy" "$tmp/one.jsonl"
check "import of a file that is no export" 1 "not an export" -- "$sx" store import "$tmp/x" /etc/hostname
check "import without a file is bad usage" 2 "usage: sx store import" -- "$sx" store import "$tmp/x"
check "export --kv alone has no stream line" 0 '"kind":"kv"' -- "$sx" store export "$tmp/db" --kv
if "$sx" store export "$tmp/db" --kv | grep -q '"kind":"stream"'; then
  bad "export --kv leaves the streams out"
else
  ok "export --kv leaves the streams out"
fi

for cmd in stats dump verify compact backup salvage export import; do
  check "sx store $cmd --help" 0 "usage: sx store $cmd" -- "$sx" store "$cmd" --help
done
for cmd in stats verify compact; do
  check "sx store $cmd --json is one JSON object" 0 "json ok" -- bash -c "'$sx' store $cmd '$tmp/copy' --json | python3 -c 'import json,sys; json.load(sys.stdin); print(\"json ok\")'"
done
check "stats has a line per stream" 0 'stream "orders/eu": 2 events, seq 1-2, last seq 2' -- "$sx" store stats "$tmp/copy"
check "backup --json" 0 '"ok":true' -- "$sx" store backup "$tmp/copy" "$tmp/backup" --json
check "the backup verifies" 0 "ok:" -- "$sx" store verify "$tmp/backup"
check "backup into a directory that is not empty" 1 "not empty" -- "$sx" store backup "$tmp/copy" "$tmp/backup"
check "salvage of a healthy store" 0 "salvaged into" -- "$sx" store salvage "$tmp/copy" "$tmp/saved"
"$sx" store export "$tmp/saved" > "$tmp/three.jsonl"
if cmp -s "$tmp/one.jsonl" "$tmp/three.jsonl"; then
  ok "a salvaged store exports as the original"
else
  bad "a salvaged store exports as the original" "$(diff "$tmp/one.jsonl" "$tmp/three.jsonl" | head -5)"
fi

# A data directory of the reference host.
mkdir -p "$tmp/rose/streams" "$tmp/rose/kv" "$tmp/rose/blobs"
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
printf '{:stream "a/b" :seq 1 :data 1}\n{:stream "a/b" :seq 2 :data 2}\n' > "$tmp/rose/streams/$(hex a/b).log"
printf '2\n' > "$tmp/rose/streams/$(hex a/b).seq"
printf '"v"' > "$tmp/rose/kv/$(hex k)"
check "persist ops refuse a reference-host directory, naming the import" 1 "sx store import NEWDIR --from rose-ash" -- "$sx" --data-dir "$tmp/rose" -e '(perform {:op "persist/streams" :args (list)})'
check "tools refuse it too" 1 "--from rose-ash" -- "$sx" store stats "$tmp/rose"
if [ ! -e "$tmp/rose/STORE" ]; then ok "nothing was written into it"; else bad "nothing was written into it"; fi
check "import --from rose-ash" 0 "imported: 2 events, 1 kv pairs" -- "$sx" store import "$tmp/moved" --from rose-ash "$tmp/rose"
check "the moved events read back" 0 '"seq":2' -- "$sx" store export "$tmp/moved" --stream a/b
check "--from an unknown source" 2 "unknown source" -- "$sx" store import "$tmp/m2" --from kafka "$tmp/rose"

summary
