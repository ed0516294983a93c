#!/usr/bin/env bash
# private_headers.sh — the interpreter's headers (interp/*.h) are its own:
# the host, the public headers, the stdlib, the examples and the benchmarks
# use the interpreter only through include/sx/. Only interp/ itself and the
# white-box tests (tests/interp, tests/fuzz) include them. Lists every
# offending line and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/../.."
dirs=()
for d in host include stdlib examples bench tests; do
  [ -d "$d" ] && dirs+=("$d")
done
bad=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"interp/' \
        --include='*.cc' --include='*.h' "${dirs[@]}" |
      grep -vE '^tests/(interp|fuzz)/' || true)
if [ -n "$bad" ]; then
  echo "private_headers: these include the interpreter's internal headers;" >&2
  echo "use include/sx/ instead:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "private_headers: no file outside interp/ and its white-box tests includes interp/*.h"
