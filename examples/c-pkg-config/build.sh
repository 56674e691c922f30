#!/usr/bin/env bash
# A C application built with pkg-config against restorekit's C API (restorekit-c.pc): it links
# librestorekit_c.so, which brings everything it needs.
# Usage: PKG_CONFIG_PATH=PREFIX/lib/pkgconfig examples/c-pkg-config/build.sh OUT
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck disable=SC2046  # pkg-config prints one flag per word
cc -std=c99 -Wall -Wextra -pedantic -Werror -O2 "$here/main.c" -o "$1" \
  $(pkg-config --cflags --libs restorekit-c)
