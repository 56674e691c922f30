#!/usr/bin/env bash
# The C API loaded at run time: only restorekit.h at build time, librestorekit_c.so.0.2 found by
# the dynamic loader when it runs (LD_LIBRARY_PATH=PREFIX/lib, or an installed package).
# Usage: examples/c-dlopen/build.sh PREFIX OUT
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cc -std=c99 -Wall -Wextra -pedantic -Werror -O2 -I"$1/include" "$here/main.c" -o "$2" -ldl
