#!/usr/bin/env bash
# Runs the interpreter benchmarks in sx and, where installed, in Lua 5.4,
# Guile 3 and Python 3, all in this one run, and prints each ratio
# sx / peer (below 1.0: sx is faster). Whole-process wall time, median of
# RUNS (default 5) rounds; each round runs sx and then every peer, so load
# that comes and goes during the run lands on both sides of a ratio. Also:
# startup (`sx -e nil`) and the peak memory of the list benchmark.
#   bench/interp/run.sh [RUNS]        SX=path/to/sx to pick the binary
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
sx=${SX:-$root/build/sx}
runs=${1:-5}
progs="$here/programs"

# Wall seconds of one run of a command.
seconds() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

median() { sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}'; }

peers=()
command -v lua5.4 >/dev/null && peers+=("lua:lua5.4:lua")
command -v guile >/dev/null && peers+=("guile:guile --no-auto-compile:scm")
# The interpreter itself, not a launcher in front of it (a version manager's
# shim adds a tenth of a second to every run).
if command -v python3 >/dev/null; then
  python=$(python3 -c 'import sys; print(sys.executable)')
  peers+=("python:$python:py")
fi

# One row: RUNS rounds, each running sx and then every peer once, so that a
# change in the machine's load during the run affects both sides of a ratio
# alike. $1 is the row name; "-" as a program means the peer's startup.
row() {
  local name=$1 sx_args=("${@:2}") tmp
  tmp=$(mktemp -d)
  for _ in $(seq "$runs"); do
    seconds "$sx" "${sx_args[@]}" >>"$tmp/sx"
    for p in "${peers[@]}"; do
      local peer=${p%%:*} rest=${p#*:} cmd ext
      cmd=${rest%:*}; ext=${rest##*:}
      if [ "$name" = startup ]; then
        case $peer in
          lua) seconds lua5.4 -e '' ;;
          guile) seconds guile --no-auto-compile -c '0' ;;
          python) seconds "$python" -c '0' ;;
        esac >>"$tmp/$peer"
      else
        # shellcheck disable=SC2086
        seconds $cmd "$progs/$name.$ext" >>"$tmp/$peer"
      fi
    done
  done
  local t_sx
  t_sx=$(median <"$tmp/sx")
  printf '%-9s %8s' "$name" "$t_sx"
  for p in "${peers[@]}"; do
    local t
    t=$(median <"$tmp/${p%%:*}")
    printf ' %9s %9s' "$t" "$(echo "$t_sx / $t" | bc -l | xargs printf '%.2f')"
  done
  printf '\n'
  rm -rf "$tmp"
}

printf '%-9s %8s' benchmark "sx (s)"
for p in "${peers[@]}"; do printf ' %9s %9s' "${p%%:*}" "sx/${p%%:*}"; done
printf '\n'
for b in fib loop list dict strings; do row "$b" "$progs/$b.sx"; done
row startup -e nil

if command -v /usr/bin/time >/dev/null; then
  kb=$( { /usr/bin/time -f '%M' "$sx" "$progs/list.sx" >/dev/null; } 2>&1 | tail -1)
  printf 'peak memory of the list benchmark: %d MB (target: under 100 MB)\n' $((kb / 1024))
fi
