#!/usr/bin/env bash
# Whole-process benchmark of `restorekit diff` against sqldiff, measured in the same run, on
# generated backup/live pairs of ~1M and ~5M rows (the live copy mutated like a working day).
# Targets (DESIGN.md): >= 4x faster than `sqldiff --summary`, >= 1.5x faster than plain
# `sqldiff`, peak RSS <= 64 MiB. restorekit also gives the per-tenant breakdown.
# Usage: bench/diff_bench.sh [build-dir] [work-dir]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build/release}"
work="${2:-${TMPDIR:-/tmp}/restorekit-bench}"
RK="$build/cli/restorekit"
GEN="$build/tests/sample/restorekit-sample"
source "$here/common.sh"

printf '%-10s %12s %12s %12s %10s %10s %10s\n' "pair" "restorekit s" "summary s" "sqldiff s" \
  "vs summ." "vs plain" "RSS MiB"
for rows in 1000000 5000000; do
  dir="$work/diff-$rows"
  if [ ! -f "$dir/app/live/app.sqlite" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    "$GEN" --out "$dir/app" --rows "$rows" --docs 50 --doc-bytes 2000 >/dev/null
  fi
  backup="$dir/app/app.sqlite"
  live="$dir/app/live/app.sqlite"
  ours=$(median_time "$RK" diff "$backup" --live "$live" --json --tenant-column company_id)
  summary=$(median_time sqldiff --summary "$backup" "$live")
  plain=$(median_time sh -c "sqldiff '$backup' '$live' > /dev/null")
  rss=$(( $(peak_rss_kib "$RK" diff "$backup" --live "$live" --json --tenant-column company_id) / 1024 ))
  printf '%-10s %12.3f %12.3f %12.3f %9.2fx %9.2fx %10d\n' "$rows" "$ours" "$summary" "$plain" \
    "$(ratio "$summary" "$ours")" "$(ratio "$plain" "$ours")" "$rss"
done
echo "targets: >= 4x vs sqldiff --summary, >= 1.5x vs plain sqldiff, RSS <= 64 MiB"
