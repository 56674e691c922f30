#!/usr/bin/env bash
# Installs this build into a temporary prefix and builds the examples against that tree only
# (a copy of each example outside the source tree; no package registry): the C++ consumer with
# find_package (static and shared libraries), the same program with pkg-config, the C API with
# pkg-config and loaded with dlopen. Each runs on a backup that the installed restorekit made of
# a sqlite3-made database, intact and then cut short. Also checks what the shared libraries
# export (the public API only) and their SONAMEs.
# Usage: consumers_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$(cd "$1" && pwd)"
src="$(cd "$2" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
for tool in sqlite3 bsdtar pkg-config c++ cc readelf nm; do
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
  # The C++ examples print the count, the C ones the JSON document (totals.entries).
  grep -Eqx "entries: $entries| *\"entries\": $entries,?" <<<"$out" ||
    fail "$1: wrong entry count: $out"
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

# The same against the shared libraries (restorekit::verify_shared): the binary needs
# librestorekit_verify.so.0.2 and runs with the installed lib folder on the loader's path.
cmake -S "$tmp/cmake-app" -B "$tmp/cmake-shared" -DCMAKE_BUILD_TYPE=Release -DRESTOREKIT_SHARED=ON \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >/dev/null
cmake --build "$tmp/cmake-shared" >/dev/null
readelf -d "$tmp/cmake-shared/verify_backup" | grep 'NEEDED.*\[librestorekit_verify\.so\.0\.2\]' >/dev/null ||
  fail "the shared consumer does not need librestorekit_verify.so.0.2: $(readelf -d "$tmp/cmake-shared/verify_backup")"
LD_LIBRARY_PATH="$tmp/prefix/lib" check "find_package, shared" "$tmp/cmake-shared/verify_backup"

# The shared libraries: a SONAME of MAJOR.MINOR, and only the public API exported.
lib="$tmp/prefix/lib"
for m in core inspect verify diff restore catalog c; do
  so="$lib/librestorekit_$m.so.0.2"
  [ -e "$so" ] || fail "$so was not installed"
  readelf -d "$so" | grep "SONAME.*\[librestorekit_$m\.so\.0\.2\]" >/dev/null || fail "$so: wrong SONAME"
  [ -e "$lib/librestorekit_$m.a" ] || fail "librestorekit_$m.a was not installed"
done
# C++: the public API is exported, private helpers and the libraries linked in are not (only
# restorekit's own names and standard-library templates instantiated for them, vague linkage).
symbols=$(nm -DC --defined-only "$lib"/librestorekit_{core,inspect,verify,diff,restore,catalog}.so.0.2)
grep -q ' restorekit::verify::verify(' <<<"$symbols" ||
  fail "librestorekit_verify.so does not export restorekit::verify::verify"
grep -q ' restorekit::diff::diff_databases(' <<<"$symbols" ||
  fail "librestorekit_diff.so does not export restorekit::diff::diff_databases"
if grep -q 'check_backup(' <<<"$symbols"; then
  fail "librestorekit_verify.so exports a private helper (check_backup, verify/src)"
fi
leaked=$(grep -E 'fmt::|nlohmann::|toml::|tl::|XXH|ZSTD_|sqlite3_|archive_[a-z]' <<<"$symbols" |
  grep -v 'restorekit::' || true)
[ -z "$leaked" ] || fail "the C++ shared libraries export third-party code: $(head -3 <<<"$leaked")"
# C: exactly the functions restorekit.h declares.
declared=$(grep -oE '\brestorekit_[a-z0-9_]+\(' "$tmp/prefix/include/restorekit.h" | tr -d '(' | sort -u)
exported=$(nm -D --defined-only "$lib/librestorekit_c.so.0.2" | awk '$2 == "T" {print $3}' |
  sed 's/@.*//' | sort -u)
[ "$declared" = "$exported" ] ||
  fail "librestorekit_c.so exports other than restorekit.h declares: $(diff <(echo "$declared") <(echo "$exported"))"

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
export LD_LIBRARY_PATH="$tmp/moved/lib"  # the shared libraries, where the tree was moved
check "pkg-config" "$tmp/pc-app"

# C, with pkg-config (restorekit-c.pc): linked against librestorekit_c.so.0.2 alone.
PKG_CONFIG_PATH="$(dirname "$(find "$tmp/moved" -name restorekit-c.pc)")" \
  bash "$src/examples/c-pkg-config/build.sh" "$tmp/c-app"
ldd "$tmp/c-app" | grep "librestorekit_c.so.0.2 => $tmp/moved/lib/" >/dev/null ||
  fail "the C consumer does not load the installed librestorekit_c.so.0.2: $(ldd "$tmp/c-app")"
if ldd "$tmp/c-app" | grep 'librestorekit_\(core\|verify\)' >/dev/null; then
  fail "librestorekit_c.so is not self-contained: $(ldd "$tmp/c-app")"
fi
check "C, pkg-config" "$tmp/c-app"

# C, loading the shared library at run time (dlopen by SONAME, as an FFI does).
bash "$src/examples/c-dlopen/build.sh" "$tmp/moved" "$tmp/dl-app"
check "C, dlopen" "$tmp/dl-app"

# The README's snippets (section "Embedding"), built as they are written: the CMake lines in a
# project of their own, the pkg-config command lines, the C example in a main().
snippet() {  # snippet LANG N: the Nth ```LANG block of the Embedding section
  awk -v lang="$1" -v n="$2" '
    /^## / { inside = ($0 == "## Embedding") }
    inside && $0 == "```" lang { k++; if (k == n) { on = 1; next } }
    on && $0 == "```" { exit }
    on { print }' "$src/README.md"
}
mkdir -p "$tmp/readme/cmake"
cp "$src/examples/cpp-find-package/main.cpp" "$tmp/readme/cmake/"
{
  echo "cmake_minimum_required(VERSION 3.25)"
  echo "project(readme LANGUAGES CXX)"
  echo "set(CMAKE_CXX_STANDARD 20)"
  echo "add_executable(verify_backup main.cpp)"
  snippet cmake 1
} >"$tmp/readme/cmake/CMakeLists.txt"
grep -q find_package "$tmp/readme/cmake/CMakeLists.txt" || fail "README: no CMake snippet found"
cmake -S "$tmp/readme/cmake" -B "$tmp/readme/cmake-build" -DCMAKE_PREFIX_PATH="$tmp/moved" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >/dev/null
cmake --build "$tmp/readme/cmake-build" >/dev/null
check "README, CMake" "$tmp/readme/cmake-build/verify_backup"
cp "$src/examples/cpp-find-package/main.cpp" "$src/examples/c-pkg-config/main.c" "$tmp/readme/"
for n in 1 2; do
  line=$(snippet sh "$n")
  [ -n "$line" ] || fail "README: pkg-config snippet $n not found"
  (cd "$tmp/readme" && PKG_CONFIG_PATH="$tmp/moved/lib/pkgconfig" bash -c "$line") ||
    fail "README: the snippet did not build: $line"
done
check "README, pkg-config C++" "$tmp/readme/verify_backup"
check "README, pkg-config C" "$tmp/readme/verify_backup_c"
{
  echo "#include <stdio.h>"
  echo "#include <restorekit.h>"
  echo "int main(void) {"
  snippet c 1
  echo "return 0;"
  echo "}"
} >"$tmp/readme/snippet.c"
# shellcheck disable=SC2046  # pkg-config prints one flag per word
cc -std=c99 -Wall -Werror "$tmp/readme/snippet.c" -o "$tmp/readme/snippet" \
  $(PKG_CONFIG_PATH="$tmp/moved/lib/pkgconfig" pkg-config --cflags --libs restorekit-c)
cp "$tmp/good.tar.zst" "$tmp/readme/customer.zip"  # any archive: the name is the snippet's
[ "$(cd "$tmp/readme" && ./snippet)" = intact ] || fail "README: the C snippet did not say intact"
echo "README snippets: ok"

