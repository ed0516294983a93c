#!/usr/bin/env bash
# Runs the interpreter benchmarks in sx and, where installed, in Lua 5.4,
# Guile 3 and Python 3, all in this one run, and prints each ratio
# sx / peer (below 1.0: sx is faster). Whole-process wall time, median of
# RUNS (default 5). Also: startup (`sx -e nil`) and the peak memory of the
# list benchmark.
#   bench/interp/run.sh [RUNS]        SX=path/to/sx to pick the binary
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
sx=${SX:-$root/build/sx}
runs=${1:-5}
progs="$here/programs"

# median wall seconds of a command, RUNS times
median() {
  local times=()
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    times+=("$(echo "$t1 - $t0" | bc -l)")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}'
}

peers=()
command -v lua5.4 >/dev/null && peers+=("lua:lua5.4:lua")
command -v guile >/dev/null && peers+=("guile:guile --no-auto-compile:scm")
command -v python3 >/dev/null && peers+=("python:python3:py")

printf '%-9s %8s' benchmark "sx (s)"
for p in "${peers[@]}"; do printf ' %9s %9s' "${p%%:*}" "sx/${p%%:*}"; done
printf '\n'
for b in fib loop list dict strings; do
  t_sx=$(median "$sx" "$progs/$b.sx")
  printf '%-9s %8s' "$b" "$t_sx"
  for p in "${peers[@]}"; do
    name=${p%%:*}; rest=${p#*:}; cmd=${rest%:*}; ext=${rest##*:}
    # shellcheck disable=SC2086
    t=$(median $cmd "$progs/$b.$ext")
    printf ' %9s %9s' "$t" "$(echo "$t_sx / $t" | bc -l | xargs printf '%.2f')"
  done
  printf '\n'
done

t_sx=$(median "$sx" -e nil)
printf '%-9s %8s' startup "$t_sx"
for p in "${peers[@]}"; do
  name=${p%%:*}
  case $name in
    lua) t=$(median lua5.4 -e '') ;;
    guile) t=$(median guile --no-auto-compile -c '0') ;;
    python) t=$(median python3 -c '0') ;;
  esac
  printf ' %9s %9s' "$t" "$(echo "$t_sx / $t" | bc -l | xargs printf '%.2f')"
done
printf '\n'

if command -v /usr/bin/time >/dev/null; then
  kb=$( { /usr/bin/time -f '%M' "$sx" "$progs/list.sx" >/dev/null; } 2>&1 | tail -1)
  printf 'peak memory of the list benchmark: %d MB (target: under 100 MB)\n' $((kb / 1024))
fi
