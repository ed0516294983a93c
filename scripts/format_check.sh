#!/usr/bin/env bash
# format_check.sh — every C++ file git tracks matches the checked-in
# .clang-format. Lists the files that do not, and exits non-zero; fix them
# with: git ls-files '*.cc' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
  echo "format_check: clang-format is not installed (scripts/setup installs it)" >&2
  exit 1
fi
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cc' '*.h')
else  # an unpacked source tree without its git history
  mapfile -t files < <(find bench examples host include interp stdlib tests \( -name '*.cc' -o -name '*.h' \) | sort)
fi
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "format_check: ${#bad[@]} of ${#files[@]} C++ files do not match .clang-format:"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "format_check: all ${#files[@]} C++ files match .clang-format"
