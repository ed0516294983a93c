#!/usr/bin/env bash
# The persist library's SX suites (tests/sx/persist) on PostgreSQL: every
# suite file runs its [store] tests on the server SX_PG_URL names, in a
# schema of its own (sx test --store URL), beside the [mem] and [mock] ones.
# Fails, never skips, when SX_PG_URL is unset.
#   tests/pg/sx_suites_test.sh SX ROOT
set -euo pipefail
sx=$1
root=$2
if [ -z "${SX_PG_URL:-}" ]; then
  echo "SX_PG_URL is unset: the PostgreSQL suites need a server (eval \"\$(scripts/pg_server.sh start)\")" >&2
  exit 1
fi
# sx test --store URL really puts the host's store on the server.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/engine.sx" <<'SX'
(deftest "the store is PostgreSQL"
  (assert= "postgres" (get (perform {:op "persist/stats" :args ()}) :engine)))
SX
"$sx" test --store "$SX_PG_URL" "$tmp/engine.sx"
out=$("$sx" test --store "$SX_PG_URL" "$root/tests/sx/persist" 2>&1) || {
  echo "$out"
  exit 1
}
echo "$out" | tail -n 1
