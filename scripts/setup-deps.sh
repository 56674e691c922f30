#!/usr/bin/env bash
# Installs every Debian 12 package that restorekit's build, tests, demo and benchmarks need,
# including the peer tools the tests and benchmarks use as yardsticks. Idempotent: packages
# already installed are skipped, and apt-get runs only when something is missing.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # libraries (DESIGN.md: dependencies are chosen)
  libarchive-dev libsqlite3-dev libxxhash-dev libcli11-dev nlohmann-json3-dev libfmt-dev
  libtomlplusplus-dev libexpected-dev libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev libzstd-dev liblzma-dev libutf8proc-dev libisal-dev libmstch-dev libpq-dev
  # the catalog's PostgreSQL backend: its tests start a throwaway server (initdb, pg_ctl)
  postgresql
  # peer tools: real foreign archives in tests, yardsticks in benchmarks
  zip unzip p7zip-full libarchive-tools xxhash zstd xz-utils gzip sqlite3 sqlite3-tools python3
  # the triage report's browser tests (headless; tests skip loudly without it)
  chromium
  # fuzzing: clang with libFuzzer and the sanitizer runtimes (the fuzz preset, fuzz/run)
  clang clang-14 libclang-rt-14-dev
  # UTF-8 locale for libarchive's name conversion; time(1) for peak RSS in benchmarks
  locales time bc
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "setup-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
