#!/usr/bin/env bash
# cli_test.sh — the `sx` command from the outside: output, exit statuses and
# one clear message for every kind of bad input. SX=path/to/sx.
set -u
sx=${SX:-build/sx}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=scripts/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/checks.sh"


printf '(println "hi")\n(+ 1 2)\n' > "$tmp/hello.sx"
printf '(+ 1' > "$tmp/unbalanced.sx"
printf '(print "\xff")' > "$tmp/bad-utf8.sx"
printf '(define (f x)\n  (car x))\n(f 1)\n' > "$tmp/unbound.sx"
printf '(define (d n) (+ 1 (d n)))\n(d 1)\n' > "$tmp/runaway.sx"
python3 -c "print('(' * 200000)" > "$tmp/deep.sx"
head -c 65536 /dev/urandom > "$tmp/garbage.sx"
printf '(println (len *args*) (first *args*))' > "$tmp/args.sx"

check "a file prints only what it prints" 0 "hi" -- "$sx" "$tmp/hello.sx"
check "-e prints the inspect text" 0 '"a\nb"' -- "$sx" -e '"a\nb"'
check "-e of a dict" 0 '{:a 1 :b (2 3)}' -- "$sx" -e "{:b '(2 3) :a 1}"
check "script arguments reach *args*" 0 "2 x" -- "$sx" "$tmp/args.sx" x y
check "--help explains usage" 0 "usage: sx" -- "$sx" --help
check "--version" 0 "sx 0." -- "$sx" --version
check "a pipe is read, evaluated and printed" 0 "3" -- bash -c "echo '(+ 1 2)' | '$sx'"
check "unknown option is bad usage" 2 "unknown option --bogus" -- "$sx" --bogus
check "-e without an expression is bad usage" 2 "-e needs an expression" -- "$sx" -e
check "bad --sync mode is bad usage" 2 "unknown mode" -- "$sx" --sync sometimes -e 1
check "a missing file" 2 "cannot read" -- "$sx" "$tmp/no-such-file.sx"
check "a directory is not a script" 2 "is a directory" -- "$sx" "$tmp"
check "a device is not a script, and is not read" 2 "not a regular file" -- timeout 20 "$sx" /dev/zero
check "a pipe given as a script is not read" 2 "not a regular file" -- timeout 20 "$sx" <(sleep 30)
mkdir -p "$tmp/lib.sx"
printf '(load "lib.sx")\n' > "$tmp/loads-dir.sx"
check "load of a directory is an error" 1 "is a directory" -- "$sx" "$tmp/loads-dir.sx"
printf '(load "/dev/zero")\n' > "$tmp/loads-dev.sx"
check "load of a device is an error, not a hang" 1 "not a regular file" -- timeout 20 "$sx" "$tmp/loads-dev.sx"
check "unbalanced input names file:line:col" 1 "unbalanced.sx:1:5: error: expected ')'" -- "$sx" "$tmp/unbalanced.sx"
check "invalid UTF-8 is refused" 1 "invalid UTF-8" -- "$sx" "$tmp/bad-utf8.sx"
check "random bytes are refused, not crashed on" 1 "error" -- "$sx" "$tmp/garbage.sx"
check "nesting beyond the limit" 1 "nesting deeper than" -- "$sx" "$tmp/deep.sx"
check "an uncaught error names the place and a backtrace" 1 "unbound.sx:2:3" -- "$sx" "$tmp/unbound.sx"
printf '(import persist)\n(define store (persist/durable-backend))\n(define (add-order id)\n  (persist/append store 42 "placed" 1 {:id id})\n  :added)\n(add-order 7)\n' > "$tmp/orders.sx"
printf '(define x 1)\n\n   zzz\n' > "$tmp/toplevel.sx"
check "a stdlib argument error is headlined at the user's line" 1 "orders.sx:4:3: error: persist/append: argument 2 (stream) must be a string, got 42" -- "$sx" --data-dir "$tmp/orders-data" "$tmp/orders.sx"
check "the backtrace names the user's function" 1 "  at $tmp/orders.sx:4:3 in add-order" -- "$sx" --data-dir "$tmp/orders-data" "$tmp/orders.sx"
check "the backtrace lists the stdlib frames too" 1 "in persist/append" -- "$sx" --data-dir "$tmp/orders-data" "$tmp/orders.sx"
check "a top-level unbound symbol is at its own place" 1 "toplevel.sx:3:4: error: unbound symbol: zzz" -- "$sx" "$tmp/toplevel.sx"
check "runaway recursion is an error, not a crash" 1 "stack overflow" -- "$sx" "$tmp/runaway.sx"
check "integer overflow is an error" 1 "overflow" -- "$sx" -e '(* 9223372036854775807 2)'
check "wrong argument type names the argument" 1 "argument 1 must be" -- "$sx" -e '(substring 5 1)'
check "an op no handler serves" 1 'no handler for op "x/y"' -- "$sx" -e '(perform {:op "x/y"})'
check "persist ops use --data-dir" 0 "7" -- "$sx" --data-dir "$tmp/data" -e '(perform {:op "persist/kv-put" :args (list "k" 7)})'
check "SX_PERSIST_DIR is the default data dir" 0 "7" -- env SX_PERSIST_DIR="$tmp/data" "$sx" -e '(perform {:op "persist/kv-get" :args (list "k")})'
check "sx store verify on a good store" 0 "" -- "$sx" store verify "$tmp/data"
check "sx store without a command is bad usage" 2 "" -- "$sx" store
check "sx test without paths is bad usage" 2 "test needs" -- "$sx" test

# The REPL's banner names a PostgreSQL store by its URL, never its password
# (the expression needs no store, so no server is reached).
out=$(echo '(+ 1 2)' | "$sx" --store 'postgresql://sx:S3CRETPW@127.0.0.1:1/db?schema=x' --repl 2>&1)
if [[ "$out" == *"data in postgresql://sx@127.0.0.1:1/db"* && "$out" != *S3CRETPW* ]]; then
  ok "the REPL banner names a PostgreSQL store without its password"
else
  bad "the REPL banner names a PostgreSQL store without its password" "output: ${out:0:600}"
fi

summary
