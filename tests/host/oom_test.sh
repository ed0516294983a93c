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
passed=0
failed=0
# 1 GB of address space (2 GB for the case as it was reported): the lists
# below need about 5 GB.
limit=1000000

# check NAME WANT_STATUS WANT_TEXT EXPR: runs `sx -e EXPR` under the limit.
check() {
  local name=$1 want_status=$2 want_text=$3 expr=$4 out status
  out=$(ulimit -v "$limit"; "$sx" -e "$expr" 2>&1)
  status=$?
  if [ "$status" -eq "$want_status" ] && [[ "$out" == *"$want_text"* ]]; then
    echo "ok   $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name: status $status (want $want_status), output: ${out:0:300}"
    failed=$((failed + 1))
  fi
}

limit=2000000 check "out of memory is an error, exit 1, not an abort" 1 "error: out of memory" \
  '(len (range 200000000))'
check "a guard catches it and the script goes on" 0 '(("out of memory") 1000000)' \
  '(define r (guard (e (true (list (error-message e)))) (len (range 200000000))))
   (list r (len (range 1000000)))'
check "caught again and again, memory comes back each time" 0 '("out of memory" "out of memory" "out of memory" 3000000)' \
  '(define (f) (guard (e (true (error-message e))) (len (range 200000000))))
   (list (f) (f) (f) (len (range 3000000)))'
check "in a callback of map" 0 '"out of memory"' \
  '(guard (e (true (error-message e))) (map (fn (i) (list i i i)) (range 100000000)))'
check "in a string that doubles" 0 '"out of memory"' \
  '(define (g s) (g (str s s))) (guard (e (true (error-message e))) (g "ab"))'
check "in a spawned task" 0 '"out of memory"' \
  '(await (spawn (fn () (guard (e (true (error-message e))) (len (range 200000000))))))'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
