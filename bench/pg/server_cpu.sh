#!/usr/bin/env bash
# server_cpu.sh — what a group costs the PostgreSQL server, piece by piece.
#
#   scripts/pg_server.sh run bench/pg/server_cpu.sh [N]
#
# Runs N transactions (default 2000) of each kind below with pgbench, one
# client, synchronous_commit off (so the disk's mood drops out), and prints
# the server's CPU time per transaction: the CPU of every server process,
# read from /proc before and after (a finished session's time is counted in
# the postmaster's). Each kind runs for groups of 8 and of 64 events. The schema is the backend's own (the
# migrations in host/pg/sql/), in a throw-away schema `sx_cost`.
#
#   baseline     BEGIN; one INSERT of the events into a (bytea, seq) table; COMMIT
#   events       the same INSERT into the backend's events table
#   + commit row the events and the group's commits row, one statement
#   + function   the same two inserts inside a PL/pgSQL function
#   short way    BEGIN; append_remembered(...) (locks, inserts); COMMIT
#   + check      the same with the full check of the streams' row hwms
#
# The server must run on this machine, as a user whose /proc entries this
# script can read.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
url=${SX_PG_URL:?SX_PG_URL is unset; run: scripts/pg_server.sh run bench/pg/server_cpu.sh}
n=${1:-2000}
command -v pgbench >/dev/null || PATH=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1):$PATH
sep='?'
case $url in *\?*) sep='&' ;; esac
run_url="${url}${sep}options=-csearch_path%3Dsx_cost%20-csynchronous_commit%3Doff"
work=$(mktemp -d)
trap 'rm -rf "$work"; psql -qX "$url" -c "DROP SCHEMA IF EXISTS sx_cost CASCADE" >/dev/null 2>&1 || true' EXIT

{
  echo "SET client_min_messages = warning;"
  echo "DROP SCHEMA IF EXISTS sx_cost CASCADE; CREATE SCHEMA sx_cost; SET search_path = sx_cost;"
  cat "$here"/host/pg/sql/*.sql
  cat <<'SQL'
INSERT INTO streams (name_hash, name)
  SELECT sha256(('s' || g)::bytea), ('s' || g)::bytea FROM generate_series(1, 64) g;
CREATE SEQUENCE seqs;
CREATE TABLE base (stream bytea, seq bigint, payload bytea, PRIMARY KEY (stream, seq));
CREATE FUNCTION inserts_only(ev_streams bigint[], ev_seqs bigint[], ev_payloads bytea[],
                             commit_token bytea) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (stream_id, seq, payload)
    SELECT * FROM unnest(ev_streams, ev_seqs, ev_payloads);
  INSERT INTO commits (token, stream_ids, first_seqs, last_seqs)
    VALUES (commit_token, ev_streams, ev_seqs, ev_seqs);
END
$$;
SQL
} | psql -qX -v ON_ERROR_STOP=1 "$url" >/dev/null

# One pgbench script per kind and group size: the arrays are built on the
# server, the same way for every kind; each transaction takes a new seq.
write_scripts() {
  local k=$1
  local ids="ARRAY(SELECT g::int8 FROM generate_series(1, $k) g)"
  local seqs="array_fill(nextval('seqs'), ARRAY[$k])"
  local pay="array_fill(repeat('p', 200)::bytea, ARRAY[$k])"
  local names="ARRAY(SELECT ('s' || g)::bytea FROM generate_series(1, $k) g)"
  local marks="array_fill(0::int8, ARRAY[$k])"
  local tok="gen_random_uuid()::text::bytea"
  local ins="INSERT INTO events (stream_id, seq, payload) SELECT * FROM unnest($ids, $seqs, $pay)"
  printf 'BEGIN;\nINSERT INTO base SELECT * FROM unnest(%s, %s, %s);\nCOMMIT;\n' \
    "$names" "$seqs" "$pay" >"$work/baseline$k.sql"
  printf 'BEGIN;\n%s;\nCOMMIT;\n' "$ins" >"$work/events$k.sql"
  printf 'BEGIN;\nWITH ins AS (%s) INSERT INTO commits (token, stream_ids, first_seqs, last_seqs) VALUES (%s, %s, %s, %s);\nCOMMIT;\n' \
    "$ins" "$tok" "$ids" "$seqs" "$seqs" >"$work/commitrow$k.sql"
  printf 'BEGIN;\nSELECT inserts_only(%s, %s, %s, %s);\nCOMMIT;\n' \
    "$ids" "$seqs" "$pay" "$tok" >"$work/function$k.sql"
  local checked=0 # marks_moved is never taken here: 0 skips the check
  printf 'BEGIN;\nSELECT append_remembered(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s);\nCOMMIT;\n' \
    "$ids" "$ids" "$marks" "$checked" "$ids" "$seqs" "$pay" "$tok" "$seqs" "$seqs" >"$work/shortway$k.sql"
  printf 'BEGIN;\nSELECT append_remembered(%s, %s, %s, -1, %s, %s, %s, %s, %s, %s);\nCOMMIT;\n' \
    "$ids" "$ids" "$marks" "$ids" "$seqs" "$pay" "$tok" "$seqs" "$seqs" >"$work/checked$k.sql"
}
write_scripts 8
write_scripts 64

# CPU ticks of every server process, finished sessions included.
server_ticks() {
  local pid total=0 t
  for pid in $(pgrep -x postgres || true); do
    t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat" 2>/dev/null || true)
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
tick=$(getconf CLK_TCK)

measure() { # script -> microseconds of server CPU per transaction
  psql -qX "$url" -c "TRUNCATE sx_cost.events, sx_cost.commits, sx_cost.base" >/dev/null
  pgbench -n -M prepared -t 200 -f "$1" "$run_url" >/dev/null 2>&1
  sleep 0.3 # until the warm-up's session has ended and been counted
  local before after
  before=$(server_ticks)
  pgbench -n -M prepared -t "$n" -f "$1" "$run_url" >"$work/out" 2>&1 ||
    { cat "$work/out" >&2; exit 1; }
  sleep 0.3
  after=$(server_ticks)
  echo $(((after - before) * 1000000 / tick / n))
}

printf 'server_cpu: %s, %d transactions per figure, synchronous_commit off\n' \
  "$(echo "$url" | sed -E 's#://([^:@/]*):[^@]*@#://\1@#')" "$n"
# Rounds over every figure in turn, so that a slower spell of the machine
# falls on all of them; the least of each is printed.
kinds=(baseline events commitrow function shortway checked)
declare -A best
for _ in 1 2 3; do
  for kind in "${kinds[@]}"; do
    for k in 8 64; do
      us=$(measure "$work/$kind$k.sql")
      if [ -z "${best[$kind$k]:-}" ] || [ "$us" -lt "${best[$kind$k]}" ]; then
        best[$kind$k]=$us
      fi
    done
  done
done
printf '%-14s %12s %12s\n' "kind" "8 events" "64 events"
for kind in "${kinds[@]}"; do
  printf '%-14s %9s us %9s us\n' "$kind" "${best[${kind}8]}" "${best[${kind}64]}"
done
