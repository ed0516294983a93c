#!/usr/bin/env bash
# test_runner_test.sh — `sx test` from the outside: a fresh store per file
# (whatever SX_PERSIST_DIR or --data-dir say) unless --shared-store, flags
# after `test`, a line per file, JUnit XML, and failures placed at the
# user's line. SX=path/to/sx.
set -u
sx=${SX:-build/sx}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=scripts/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/checks.sh"


# Two suites that each expect to be the first writer of the same stream.
mkdir -p "$tmp/suites"
for n in a b; do
  cat > "$tmp/suites/$n.sx" <<'SX'
(import persist)
(deftest "the stream starts empty"
  (define b (persist/durable-backend))
  (assert= 1 (get (persist/append b "s" "t" 1 {}) :seq)))
SX
done
cat > "$tmp/fails.sx" <<'SX'
(define (helper x)
  (+ x 1))

(deftest "passes"
  (assert= 2 (helper 1)))

(deftest "an error in a helper"
  (helper :a))
SX

cat > "$tmp/helper_assert.sx" <<'SX'
(define (check-total x)
  (assert= 3 x))

(deftest "an assertion in a helper"
  (check-total 2))
SX

check "each file gets a fresh store" 0 "2 passed, 0 failed" -- "$sx" test "$tmp/suites"
check "even when SX_PERSIST_DIR is set" 0 "2 passed, 0 failed" -- env SX_PERSIST_DIR="$tmp/env-data" "$sx" test "$tmp/suites"
check "even when --data-dir is given" 0 "2 passed, 0 failed" -- "$sx" --data-dir "$tmp/opt-data" test "$tmp/suites"
check "--data-dir after test too" 0 "2 passed, 0 failed" -- "$sx" test --data-dir "$tmp/opt-data" "$tmp/suites"
if [ -e "$tmp/env-data" ] || [ -e "$tmp/opt-data" ]; then
  bad "the named data directories are left alone" "they were written without --shared-store"
else
  ok "the named data directories are left alone"
fi
check "--shared-store shares one store between files" 1 "1 passed, 1 failed" -- "$sx" test --shared-store --data-dir "$tmp/shared" "$tmp/suites"
check "--shared-store uses the named directory" 0 "" -- test -d "$tmp/shared"
check "flags after test: -v lists passing tests" 0 "ok   $tmp/suites/a.sx: the stream starts empty" -- "$sx" test -v "$tmp/suites"
check "a line per file with its time" 0 "$tmp/suites/b.sx: 1 passed, 0 failed (" -- "$sx" test "$tmp/suites"
check "a failure is placed at the user's line, with the function" 1 "at $tmp/fails.sx:2:3 in helper" -- "$sx" test "$tmp/fails.sx"
check "an assertion failure names the function it is in" 1 "at $tmp/helper_assert.sx:2:3 in check-total" -- "$sx" test "$tmp/helper_assert.sx"
check "test --help documents the flags" 0 "--shared-store" -- "$sx" test --help
check "test --help documents --junit" 0 "--junit FILE" -- "$sx" test --help
check "an unknown test flag is bad usage" 2 "unknown option --bogus" -- "$sx" test --bogus "$tmp/suites"
check "--junit without a file is bad usage" 2 "--junit needs a file" -- "$sx" test "$tmp/suites" --junit

# JUnit XML: one testsuite per file, one testcase per test, failures with
# their message; parsed by a real XML parser.
"$sx" test --junit "$tmp/report.xml" "$tmp/suites" "$tmp/fails.sx" >/dev/null 2>&1
check "--junit writes XML that parses and counts" 0 "suites=3 tests=4 failures=1" -- python3 - "$tmp/report.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
suites = root.findall("testsuite")
cases = root.findall("testsuite/testcase")
fails = root.findall("testsuite/testcase/failure")
for s in suites:
    assert int(s.get("tests")) == len(s.findall("testcase"))
    assert float(s.get("time")) >= 0
assert "helper" in fails[0].text, fails[0].text
assert fails[0].get("message").startswith("+: argument 1"), fails[0].get("message")
print(f"suites={len(suites)} tests={len(cases)} failures={len(fails)}")
PY

summary
