#!/usr/bin/env bash
# Whole-process benchmark of `restorekit inspect` (DESIGN.md: "header preview of our backup
# is constant"). Builds samples of ~10 MB and ~1 GB payload with the sample generator, backs
# each up as our tar.zst and as a foreign tar.zst made by bsdtar, and reports the median of
# several runs of each, with the peer `bsdtar -tf` (listing only) timed in the same run.
# Usage: bench/inspect_bench.sh [build-dir] [work-dir]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build/release}"
work="${2:-${TMPDIR:-/tmp}/restorekit-bench}"
rk="$build/cli/restorekit"
gen="$build/tests/sample/restorekit-sample"
RUNS=5
source "$here/common.sh"
mkdir -p "$work"

make_set() {  # name rows docs doc_bytes
  local dir="$work/$1"
  if [ ! -f "$dir/ours.tar.zst" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    "$gen" --out "$dir/app" --rows "$2" --docs "$3" --doc-bytes "$4" --no-live >/dev/null
    "$rk" backup --db "$dir/app/app.sqlite" --docs "$dir/app/docs" -o "$dir/ours.tar.zst" \
      --threads 2 --quiet
    (cd "$dir/app" && bsdtar --zstd -cf ../foreign.tar.zst app.sqlite docs)
  fi
}

make_set small 20000 300 25000
make_set large 1000000 4000 240000

printf '%-34s %12s %12s\n' "archive" "payload" "median s"
declare -A t
for set in small large; do
  payload=$(du -sb "$work/$set/app" | cut -f1)
  t[ours_$set]=$(median_time "$rk" inspect "$work/$set/ours.tar.zst" --no-catalog)
  t[foreign_$set]=$(median_time "$rk" inspect "$work/$set/foreign.tar.zst" --no-catalog)
  t[bsdtar_$set]=$(median_time bsdtar -tf "$work/$set/foreign.tar.zst")
  printf '%-34s %12s %12.4f\n' "restorekit inspect ours ($set)" "$payload" "${t[ours_$set]}"
  printf '%-34s %12s %12.4f\n' "restorekit inspect foreign ($set)" "$payload" "${t[foreign_$set]}"
  printf '%-34s %12s %12.4f\n' "bsdtar -tf foreign ($set)" "$payload" "${t[bsdtar_$set]}"
done
echo
printf 'header preview, large/small time ratio: %.2fx (target: ~1, constant cost)\n' \
  "$(echo "${t[ours_large]} / ${t[ours_small]}" | bc -l)"
printf 'foreign inspect vs bsdtar -tf (large): %.2fx the peer time (inspect also finds and describes the database)\n' \
  "$(echo "${t[foreign_large]} / ${t[bsdtar_large]}" | bc -l)"
