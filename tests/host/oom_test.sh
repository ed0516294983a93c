#!/usr/bin/env bash
# oom_test.sh — a real sx process that runs out of memory (address space
# bounded with `ulimit -v`) gets the SX error "out of memory": exit status 1
# when nothing catches it, and a guard that catches it lets the script go on.
# SX=path/to/sx. Exits 77 (a skip, which ctest reports) when the binary was
# built with AddressSanitizer, whose shadow memory cannot live under ulimit -v.
set -u
sx=${SX:-build/sx}
if [[ "${SX_SANITIZE:-}" == *address* ]]; then
  echo "skipped: AddressSanitizer reserves more address space than ulimit -v allows"
  exit 77
fi
# shellcheck source=scripts/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/checks.sh"
# 1 GB of address space (2 GB for the case as it was reported): the lists
# below need about 5 GB.
limit=1000000

# under_limit EXPR: `sx -e EXPR` with its address space bounded by $limit.
under_limit() { (ulimit -v "$limit" && exec "$sx" -e "$1"); }

limit=2000000 check "out of memory is an error, exit 1, not an abort" 1 "error: out of memory" \
  -- under_limit '(len (range 200000000))'
check "a guard catches it and the script goes on" 0 '(("out of memory") 1000000)' \
  -- under_limit '(define r (guard (e (true (list (error-message e)))) (len (range 200000000))))
   (list r (len (range 1000000)))'
check "caught again and again, memory comes back each time" 0 '("out of memory" "out of memory" "out of memory" 3000000)' \
  -- under_limit '(define (f) (guard (e (true (error-message e))) (len (range 200000000))))
   (list (f) (f) (f) (len (range 3000000)))'
check "in a callback of map" 0 '"out of memory"' \
  -- under_limit '(guard (e (true (error-message e))) (map (fn (i) (list i i i)) (range 100000000)))'
check "in a string that doubles" 0 '"out of memory"' \
  -- under_limit '(define (g s) (g (str s s))) (guard (e (true (error-message e))) (g "ab"))'
check "in a spawned task" 0 '"out of memory"' \
  -- under_limit '(await (spawn (fn () (guard (e (true (error-message e))) (len (range 200000000))))))'

summary
