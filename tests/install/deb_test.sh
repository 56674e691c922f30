#!/usr/bin/env bash
# `cpack -G DEB` of this build: the package's name, version and runtime dependencies (derived by
# dpkg-shlibdeps: libraries, never -dev packages) and its files. With RESTOREKIT_DEB_INSTALL=1
# as root (scripts/test.sh sets it under CI=true, on CI's throwaway machine) it also installs
# the package with apt-get, as a user would, builds the C and C++ examples against /usr with no
# path given, runs them on a backup, and removes the package again.
# Usage: deb_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build="$(cd "$1" && pwd)"
src="$(cd "$2" && pwd)"
fail() { echo "FAIL: $*" >&2; exit 1; }
for tool in cpack dpkg-deb dpkg-shlibdeps sqlite3 zip; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIPPED: $tool is not installed (scripts/setup-deps.sh installs it)"
    exit 77
  fi
done
tmp="$(mktemp -d)"
installed=""
cleanup() {
  if [ -n "$installed" ]; then apt-get purge -y -qq restorekit >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

cpack -G DEB -B "$tmp/pkg" --config "$build/CPackConfig.cmake" >"$tmp/cpack.log" 2>&1 ||
  fail "cpack failed: $(cat "$tmp/cpack.log")"
deb=$(find "$tmp/pkg" -maxdepth 1 -name 'restorekit_*.deb')
[ -n "$deb" ] || fail "no restorekit_*.deb in $tmp/pkg"
version=$("$build/cli/restorekit" --version | head -1 | cut -d' ' -f2)
[ "$(dpkg-deb -f "$deb" Package)" = restorekit ] || fail "wrong package name"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "package version is not $version"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libarchive13 libsqlite3-0 libzstd1 libxxhash0 libisal2 libutf8proc2 libstdc++6; do
  grep -q "\\b$lib\\b" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
if grep -q -- '-dev' <<<"$depends"; then fail "Depends names a -dev package: $depends"; fi
files=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/restorekit ./usr/include/restorekit.h ./usr/include/restorekit/verify/verify.hpp \
  ./usr/lib/librestorekit_c.so.0.2 ./usr/lib/librestorekit_verify.so.0.2 ./usr/lib/librestorekit_verify.a \
  ./usr/lib/cmake/restorekit/restorekit-config.cmake ./usr/lib/pkgconfig/restorekit-c.pc; do
  grep -qxF "$f" <<<"$files" || fail "the package lacks $f"
done
echo "package: ok ($(basename "$deb"), Depends: $depends)"

if [ "${RESTOREKIT_DEB_INSTALL:-}" != 1 ] || [ "$(id -u)" != 0 ]; then
  echo "install: not tried (RESTOREKIT_DEB_INSTALL=1 as root tries it; CI does)"
  exit 0
fi
if dpkg-query -W -f='${Status}' restorekit 2>/dev/null | grep "ok installed" >/dev/null; then
  fail "restorekit is installed already (apt-get purge restorekit)"
fi
installed=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" \
  >"$tmp/apt.log" 2>&1 || fail "apt-get install failed: $(cat "$tmp/apt.log")"
[ "$(/usr/bin/restorekit --version | head -1 | cut -d' ' -f2)" = "$version" ] ||
  fail "the installed restorekit is not $version"
cd "$tmp"
sqlite3 app.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t(v) VALUES ('x');"
mkdir docs && echo doc >docs/a.txt
/usr/bin/restorekit backup --db app.db --docs docs -o good.zip --quiet
# No path given: pkg-config and CMake find the package under /usr by themselves.
bash "$src/examples/c-pkg-config/build.sh" "$tmp/c-app"
"$tmp/c-app" good.zip | grep -x "verdict: intact" >/dev/null || fail "the C example did not verify"
cp -r "$src/examples/cpp-find-package" "$tmp/cmake-app"
cmake -S "$tmp/cmake-app" -B "$tmp/cmake-build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null
"$tmp/cmake-build/verify_backup" good.zip | grep -x "verdict: intact" >/dev/null ||
  fail "the C++ example did not verify"
echo "install: ok (apt-get install, examples built against /usr, package removed)"
