# checks.sh — sourced by the acceptance scripts: one line per check and the
# closing "N passed, N failed[, N skipped]" line. A skipped check is never
# counted as passed.
passed=0 failed=0 skipped=0
ok() { echo "ok    $1"; passed=$((passed + 1)); }
# bad NAME [DETAIL...]: each detail on its own indented line.
bad() {
  echo "FAIL  $1"
  shift
  local line
  for line in "$@"; do echo "        $line"; done
  failed=$((failed + 1))
}
skip() { echo "skip  $1 — $2"; skipped=$((skipped + 1)); }

# check NAME WANT_STATUS WANT_TEXT -- COMMAND...: runs COMMAND (a program or
# a shell function); passes when it exits WANT_STATUS and its stdout and
# stderr together contain WANT_TEXT.
check() {
  local name=$1 want_status=$2 want_text=$3
  shift 4
  local out status
  out=$("$@" 2>&1)
  status=$?
  if [ "$status" -eq "$want_status" ] && [[ "$out" == *"$want_text"* ]]; then
    ok "$name"
  else
    bad "$name" "status $status (want $want_status), output: ${out:0:600}"
  fi
}

# Prints the summary; its status is 0 only when nothing failed.
summary() {
  local s="$passed passed, $failed failed"
  [ "$skipped" -gt 0 ] && s+=", $skipped skipped"
  echo
  echo "$s"
  [ "$failed" -eq 0 ]
}
