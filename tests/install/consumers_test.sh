#!/usr/bin/env bash
# Installs this build into a temporary prefix and builds the examples against that tree only
# (a copy of each example outside the source tree; no package registry): the C++ consumer with
# find_package, the same program with pkg-config. Each runs on a backup that the installed
# restorekit made of a sqlite3-made database, intact and then cut short.
# Usage: consumers_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$(cd "$1" && pwd)"
src="$(cd "$2" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
for tool in sqlite3 bsdtar pkg-config c++; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIPPED: $tool is not installed (scripts/setup-deps.sh installs it)"
    exit 77
  fi
done

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
rk="$tmp/prefix/bin/restorekit"
[ -x "$rk" ] || fail "the restorekit executable was not installed"
config=$(find "$tmp/prefix" -name restorekit-config.cmake)
[ -n "$config" ] || fail "restorekit-config.cmake was not installed"
pc=$(find "$tmp/prefix" -name restorekit.pc)
[ -n "$pc" ] || fail "restorekit.pc was not installed"

# Data made with stock tools, backed up by the installed executable.
sqlite3 "$tmp/app.db" "CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
  INSERT INTO customer(name) VALUES ('Ada'), ('Grace'), ('Edsger');"
mkdir -p "$tmp/docs/2026" && echo "invoice" >"$tmp/docs/2026/invoice.txt"
"$rk" backup --db "$tmp/app.db" --docs "$tmp/docs" -o "$tmp/good.tar.zst" --quiet
size=$(stat -c %s "$tmp/good.tar.zst")
head -c $((size / 2)) "$tmp/good.tar.zst" >"$tmp/cut.tar.zst"
version=$("$rk" --version | head -1 | cut -d' ' -f2)
entries=$(bsdtar -tf "$tmp/good.tar.zst" | wc -l)  # the peer's count of the backup's entries

check() {  # check NAME BINARY: intact backup exit 0, cut one exit 1, both with their verdict
  local out rc
  out=$("$2" "$tmp/good.tar.zst") || fail "$1: the intact backup was not intact: $out"
  grep -qx "restorekit $version" <<<"$out" || fail "$1: built against another version: $out"
  grep -qx "verdict: intact" <<<"$out" || fail "$1: no intact verdict: $out"
  grep -qx "entries: $entries" <<<"$out" || fail "$1: wrong entry count: $out"
  rc=0 && out=$("$2" "$tmp/cut.tar.zst") || rc=$?
  [ "$rc" = 1 ] || fail "$1: the cut backup exited $rc, not 1: $out"
  grep -qx "verdict: damaged" <<<"$out" || fail "$1: no damaged verdict: $out"
  echo "$1: ok"
}

# CMake: find_package(restorekit 0.2 REQUIRED COMPONENTS verify) and nothing else.
cp -r "$src/examples/cpp-find-package" "$tmp/cmake-app"
cmake -S "$tmp/cmake-app" -B "$tmp/cmake-build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null
if grep -rqsF -- "$src" "$tmp/cmake-build" --include='*.make' --include='*.txt' --include='*.cmake'; then
  fail "the CMake consumer's build refers to the source tree $src"
fi
check "find_package" "$tmp/cmake-build/verify_backup"

# A component that does not exist is refused with the list of those that do.
sed -i 's/COMPONENTS verify/COMPONENTS verify nosuch/' "$tmp/cmake-app/CMakeLists.txt"
if cmake -S "$tmp/cmake-app" -B "$tmp/cmake-bad" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  >"$tmp/bad.log" 2>&1; then
  fail "an unknown component was accepted"
fi
grep -q 'no component "nosuch"' "$tmp/bad.log" || fail "unclear refusal: $(cat "$tmp/bad.log")"

# pkg-config, from a copy of the installed tree moved elsewhere (the .pc finds its prefix).
mv "$tmp/prefix" "$tmp/moved"
PKG_CONFIG_PATH="$(dirname "$(find "$tmp/moved" -name restorekit.pc)")" \
  bash "$src/examples/pkg-config/build.sh" "$tmp/pc-app"
check "pkg-config" "$tmp/pc-app"
