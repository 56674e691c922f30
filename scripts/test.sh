#!/usr/bin/env bash
# Installs dependencies, builds with warnings as errors and runs the whole test suite. With
# CI=true (as CI sets it) it then builds the asan preset and runs the suite again under
# AddressSanitizer (with leak detection) and UndefinedBehaviorSanitizer, then builds the
# libFuzzer targets and runs each for FUZZ_SECONDS (default 60; 0 skips), two at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh
bash scripts/build.sh ci
# On CI's throwaway machine the Debian package test also installs and removes the package.
if [ "${CI:-}" = true ]; then export RESTOREKIT_DEB_INSTALL=1; fi
ctest --preset ci
if [ "${CI:-}" != true ]; then
  echo "CI is not 'true': skipping the ASan+UBSan suite and fuzzing (CI=true bash scripts/test.sh runs them)"
  exit 0
fi
bash scripts/build.sh asan
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1" \
  ctest --preset asan
if [ "${FUZZ_SECONDS:-60}" != 0 ]; then
  FUZZ_JOBS=2 fuzz/run "${FUZZ_SECONDS:-60}"
fi
