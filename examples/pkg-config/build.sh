#!/usr/bin/env bash
# The same application built with pkg-config instead of CMake: restorekit.pc names restorekit's
# libraries and the libraries they need.
# Usage: PKG_CONFIG_PATH=PREFIX/lib/pkgconfig examples/pkg-config/build.sh OUT
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck disable=SC2046  # pkg-config prints one flag per word
c++ -std=c++20 -O2 "$here/../cpp-find-package/main.cpp" -o "$1" \
  $(pkg-config --cflags --libs restorekit)
