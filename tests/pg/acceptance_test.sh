#!/usr/bin/env bash
# An acceptance script (scripts/persist_durable_test.sh, scripts/crash_test.sh)
# on the PostgreSQL server SX_PG_URL names: it runs SCRIPT --store URL ARGS,
# and the script makes and drops fresh schemas of its own. Fails, never
# skips, when SX_PG_URL is unset.
#   SX=path/to/sx tests/pg/acceptance_test.sh SCRIPT [ARGS...]
set -euo pipefail
script=$1
shift
if [ -z "${SX_PG_URL:-}" ]; then
  echo "SX_PG_URL is unset: this test needs a server (eval \"\$(scripts/pg_server.sh start)\")" >&2
  exit 1
fi
exec bash "$script" --store "$SX_PG_URL" "$@"
