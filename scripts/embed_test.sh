#!/usr/bin/env bash
# embed_test.sh — the installed package from the outside. Installs a build
# into a scratch prefix, builds the out-of-tree example examples/embed_store
# (the guestbook) against it twice, with CMake's find_package(sx) and with
# pkg-config, and runs each build twice on one data directory: the second
# run must see the first one's signature, and the installed `sx` command
# must read what both wrote. docs/embedding.md must show the example's
# source as it is.
#
#   scripts/embed_test.sh                     (the build in build/)
#   SX_BUILD_DIR=DIR CXX=g++ scripts/embed_test.sh
#
# Registered with ctest as embed.install. Prints one line per check and
# "N passed, N failed"; a missing tool (cmake, pkg-config, a C++ compiler)
# is a failure, never a skip.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${SX_BUILD_DIR:-$ROOT/build}
CXX=${CXX:-c++}
EXAMPLE=$ROOT/examples/embed_store

for tool in cmake pkg-config "$CXX"; do
  if ! command -v "$tool" >/dev/null; then
    echo "embed_test: FAIL: $tool not found (scripts/setup installs what the tests need)" >&2
    exit 1
  fi
done
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  echo "embed_test: FAIL: no configured build at $BUILD (build it, or set SX_BUILD_DIR)" >&2
  exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sx-embed.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap "exit 130" INT TERM

# shellcheck source=scripts/checks.sh
. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

# logged NAME LOG CMD...: runs CMD with its output in LOG; a failure shows
# the end of LOG.
logged() {
  local name=$1 log=$2
  shift 2
  if "$@" >"$log" 2>&1; then
    ok "$name"
    return 0
  fi
  local tail_lines
  mapfile -t tail_lines < <(tail -n 20 "$log")
  bad "$name" "$*" "${tail_lines[@]}"
  return 1
}

# expect NAME WANT GOT: GOT must contain the line WANT.
expect() {
  if grep -qxF -- "$2" <<<"$3"; then
    ok "$1"
  else
    local got_lines
    mapfile -t got_lines <<<"$3"
    bad "$1" "want the line: $2" "got:" "${got_lines[@]}"
  fi
}

# two_runs LABEL BINARY DATA_DIR: two processes on one data directory.
two_runs() {
  local label=$1 bin=$2 dir=$3 out
  out=$("$bin" "$dir" ada 2>&1)
  expect "$label: the first run signs in a new store" '{:seq 1 :value ("ada")}' "$out"
  expect "$label: ... and reads the names back in C++" '1 signatures: ada' "$out"
  out=$("$bin" --sync batch "$dir" bob 2>&1)
  expect "$label: the second run finds the first one's signature" \
    '{:seq 2 :value ("ada" "bob")}' "$out"
}

PREFIX=$WORK/prefix
if ! logged "cmake --install into a scratch prefix" "$WORK/install.log" \
  cmake --install "$BUILD" --prefix "$PREFIX"; then
  summary
  exit 1
fi
for f in include/sx/sx.h include/sx/persist.h bin/sx; do
  if [ -f "$PREFIX/$f" ]; then ok "installed $f"; else bad "installed $f" "missing"; fi
done
for f in libsx.a cmake/sx/sxConfig.cmake pkgconfig/sx.pc; do
  found=$(find "$PREFIX" -path "*/$f" | head -n 1)
  if [ -n "$found" ]; then ok "installed $f"; else bad "installed $f" "missing"; fi
done

# --- CMake: find_package(sx) and the imported target sx::sx --------------
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
CMAKE_OUT=$WORK/cmake-build
if logged "cmake: configure the example with find_package(sx)" "$WORK/configure.log" \
  cmake -S "$EXAMPLE" -B "$CMAKE_OUT" "${generator[@]}" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF; then
  sx_dir=$(sed -n 's/^sx_DIR:PATH=//p' "$CMAKE_OUT/CMakeCache.txt")
  want_dir=$(dirname "$(find "$PREFIX" -path '*/cmake/sx/sxConfig.cmake' | head -n 1)")
  if [ "$sx_dir" = "$want_dir" ]; then
    ok "cmake: the package found is the scratch install"
  else
    bad "cmake: the package found is the scratch install" "sx_DIR=$sx_dir" "want $want_dir"
  fi
  if logged "cmake: build the example" "$WORK/build.log" cmake --build "$CMAKE_OUT"; then
    two_runs "cmake build" "$CMAKE_OUT/guestbook" "$WORK/data"
  fi
fi

# --- pkg-config: one compiler line ----------------------------------------
PC_DIR=$(dirname "$(find "$PREFIX" -name sx.pc | head -n 1)")
export PKG_CONFIG_PATH=$PC_DIR${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
if flags=$(pkg-config --cflags --libs sx 2>"$WORK/pkg-config.log"); then
  ok "pkg-config --cflags --libs sx: $flags"
  # shellcheck disable=SC2086  # the flags are words
  if logged "pkg-config: compile and link the example" "$WORK/pc-build.log" \
    "$CXX" -std=c++20 -o "$WORK/guestbook-pc" "$EXAMPLE/guestbook.cc" $flags; then
    two_runs "pkg-config build" "$WORK/guestbook-pc" "$WORK/data-pc"
    out=$("$WORK/guestbook-pc" "$WORK/data" cy 2>&1)
    expect "pkg-config build: continues the cmake build's store" \
      '{:seq 3 :value ("ada" "bob" "cy")}' "$out"
  fi
else
  mapfile -t pc_lines <"$WORK/pkg-config.log"
  bad "pkg-config --cflags --libs sx" "${pc_lines[@]}"
fi

# --- docs/embedding.md shows the program as it is -------------------------
shown=$(awk '/^```cpp$/ { getline first; if (first ~ /^\/\/ guestbook\.cc/) { grab = 1; print first }; next }
             grab && /^```$/ { exit }
             grab { print }' "$ROOT/docs/embedding.md")
if [ "$shown" = "$(cat "$EXAMPLE/guestbook.cc")" ]; then
  ok "docs/embedding.md shows examples/embed_store/guestbook.cc as it is"
else
  mapfile -t diff_lines < <(diff <(echo "$shown") "$EXAMPLE/guestbook.cc" | head -n 20)
  bad "docs/embedding.md shows examples/embed_store/guestbook.cc as it is" "${diff_lines[@]}"
fi

# --- the installed sx command reads the same store ------------------------
out=$("$PREFIX/bin/sx" --data-dir "$WORK/data" \
  -e '(perform {:op "persist/last-seq" :args (list "guestbook")})' 2>&1)
expect "installed sx: reads the guestbook's last seq" "3" "$out"

summary
