#!/usr/bin/env bash
# pg_server.sh — a throw-away PostgreSQL cluster for tests, benchmarks and CI.
#
#   eval "$(scripts/pg_server.sh start)"   creates and starts a cluster, prints
#                                          export lines for SX_PG_URL and SX_PG_DIR
#   scripts/pg_server.sh env [DIR]         prints the export lines again
#   scripts/pg_server.sh stop [DIR]        stops the cluster and removes DIR
#   scripts/pg_server.sh restart [DIR]     immediate stop (like a crash), start again
#   scripts/pg_server.sh run CMD...        start, run CMD with SX_PG_URL set,
#                                          stop and remove at exit (trap)
#
# The cluster lives in a fresh temp folder (DIR, default $SX_PG_DIR for env
# and stop): data/, the server log and the Unix socket. It listens on
# 127.0.0.1 only, on a free port, with a random password (scram-sha-256 over
# TCP). initdb refuses to run as root, so as root the cluster belongs to the
# `postgres` user; otherwise to the current user. The server binaries come
# from /usr/lib/postgresql/*/bin (Debian's `postgresql` package) or PATH.
# Every failure exits non-zero with the reason and the server log's tail.
set -euo pipefail

die() {
  echo "pg_server: $*" >&2
  exit 1
}

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && {
      echo "$d"
      return
    }
  done
  command -v initdb >/dev/null && {
    dirname "$(command -v initdb)"
    return
  }
  die "no PostgreSQL server binaries (initdb, pg_ctl) found; install the Debian package 'postgresql' (scripts/setup does)"
}

# Runs a command as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

print_env() {
  local dir=$1
  [ -f "$dir/url" ] || die "no cluster in '$dir' (start one with: scripts/pg_server.sh start)"
  echo "export SX_PG_DIR='$dir'"
  echo "export SX_PG_URL='$(cat "$dir/url")'"
}

start() {
  local bin dir port pw
  bin=$(find_bindir)
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (the postgresql package creates it)"
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/sx-pg.XXXXXX")
  chmod 700 "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  pw=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
  echo "$pw" >"$dir/pwfile"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/pwfile"
  if ! as_owner "$bin/initdb" -D "$dir/data" -U sx --pwfile="$dir/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    rm -rf "$dir"
    die "initdb failed"
  fi
  rm -f "$dir/pwfile"
  local tries=0
  while :; do
    port=$(free_port)
    echo "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c max_connections=200 -c max_wal_size=128MB -c min_wal_size=32MB" >"$dir/opts"
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(cat "$dir/opts")" \
      start >/dev/null 2>&1; then
      break
    fi
    tries=$((tries + 1))
    if [ $tries -ge 5 ]; then
      tail -n 20 "$dir/server.log" >&2 || true
      as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
      rm -rf "$dir"
      die "the server did not start (5 tries)"
    fi
  done
  echo "$bin" >"$dir/bindir"
  echo "$port" >"$dir/port"
  if ! as_owner "$bin/createdb" -h "$dir" -p "$port" -U sx sx_test 2>"$dir/createdb.log"; then
    cat "$dir/createdb.log" >&2
    stop "$dir"
    die "createdb failed"
  fi
  echo "postgresql://sx:$pw@127.0.0.1:$port/sx_test" >"$dir/url"
  print_env "$dir"
}

stop() {
  local dir=${1:-${SX_PG_DIR:-}}
  [ -n "$dir" ] || die "stop: which cluster? (pass its folder or set SX_PG_DIR)"
  [ -d "$dir" ] || return 0
  if [ -f "$dir/bindir" ] && [ -d "$dir/data" ]; then
    as_owner "$(cat "$dir/bindir")/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 ||
      as_owner "$(cat "$dir/bindir")/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

# An immediate stop (no shutdown checkpoint, as after a crash) and a start
# on the same port: tests check that nothing acknowledged is lost.
restart() {
  local dir=${1:-${SX_PG_DIR:-}}
  [ -f "$dir/opts" ] || die "restart: no cluster in '$dir'"
  local bin
  bin=$(cat "$dir/bindir")
  as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || die "restart: stop failed"
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$(cat "$dir/opts")" start >/dev/null 2>&1 || {
    tail -n 20 "$dir/server.log" >&2
    die "restart: the server did not start again"
  }
}

case "${1:-}" in
  start) start ;;
  env) print_env "${2:-${SX_PG_DIR:-}}" ;;
  stop) stop "${2:-}" ;;
  restart) restart "${2:-}" ;;
  run)
    shift
    [ $# -gt 0 ] || die "run: which command?"
    eval "$(start)"
    trap 'stop "$SX_PG_DIR"' EXIT
    "$@"
    ;;
  *)
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
