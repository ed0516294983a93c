#!/usr/bin/env bash
# sys_cli_test.sh — the world ops through the `sx` command, where only a
# process can tell: stderr apart from stdout, the exit status, lines from
# stdin, paths relative to the working directory. SX=path/to/sx.
set -u
sx=$(realpath "${SX:-build/sx}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=scripts/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/checks.sh"

# expect NAME WANT ACTUAL: compares two strings.
expect() {
  if [ "$2" == "$3" ]; then ok "$1"; else bad "$1" "want [$2], got [$3]"; fi
}

out=$("$sx" -e '(begin (println "out") (eprintln "err" 1 nil :k) (eprint "x") 5)' 2>"$tmp/err")
expect "eprintln writes to stderr, not stdout" "out
5" "$out"
expect "eprintln shows values as println does" "err 1 nil :k
x" "$(cat "$tmp/err")"

"$sx" -e '(begin (println "bye") (exit 3) (println "not reached"))' >"$tmp/out" 2>&1
expect "exit ends with its status" "3" "$?"
expect "exit flushes what was printed first" "bye" "$(cat "$tmp/out")"
"$sx" -e '(exit)' >/dev/null 2>&1
expect "exit without a code is status 0" "0" "$?"

out=$(printf 'first\nsecond\r\nlast' | "$sx" -e '(list (read-line) (read-line) (read-line) (read-line))')
expect "read-line reads stdin by lines, ending at \\n or \\r\\n, nil at the end" '("first" "second" "last" nil)' "$out"

mkdir "$tmp/cwd"
out=$(cd "$tmp/cwd" && "$sx" -e '(begin (write-file "rel.txt" "here") (list-dir "."))')
expect "paths are relative to the working directory" '("rel.txt")' "$out"
expect "write-file wrote the file" "here" "$(cat "$tmp/cwd/rel.txt")"

out=$(SX_TEST_VALUE=abc "$sx" -e '(getenv "SX_TEST_VALUE")')
expect "getenv sees the environment" '"abc"' "$out"

# The example of the README: JSONL orders into a stream, a report; a second
# run imports nothing twice.
examples=$(cd "$(dirname "$0")/../../examples" && pwd)
out=$(cd "$examples/.." && "$sx" --data-dir "$tmp/shop" examples/import_orders.sx examples/orders.jsonl 2>&1)
expect "import_orders imports every order" "6 new orders, 0 already imported, from examples/orders.jsonl" "$(echo "$out" | head -1)"
expect "import_orders reports the totals" "all             6    171.10" "$(echo "$out" | grep '^all')"
expect "import_orders reports a customer" "ada             2     43.50" "$(echo "$out" | grep '^ada')"
out=$(cd "$examples/.." && "$sx" --data-dir "$tmp/shop" examples/import_orders.sx examples/orders.jsonl 2>&1)
expect "import_orders run again imports nothing twice" "0 new orders, 6 already imported, from examples/orders.jsonl" "$(echo "$out" | head -1)"
expect "the stream still holds six orders" "all             6    171.10" "$(echo "$out" | grep '^all')"

summary
