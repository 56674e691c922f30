#!/usr/bin/env bash
# Whole-process benchmark of `restorekit restore` against what a user would otherwise run,
# measured in the same run (issue "restore"; DESIGN.md, "Performance yardsticks"), on a ~1 GB
# backup of the sample application (1M rows, 4,000 documents) and its live copy a working day
# later:
#   1. dry run (no --plan-out) vs `bsdtar -xf` + `sqlite3 DB 'PRAGMA quick_check'` of the same
#      archive (target: <= 1.3x the peer's time), and vs bsdtar -xf + integrity_check + sqldiff
#      (DESIGN.md: >= 3x faster);
#   2. apply of a full restore from a plan vs `sqlite3 live.db '.restore staged.db'` (DESIGN.md:
#      <= 0.5x the peer's time, downtime <= 50 ms; not met until apply swaps files instead of
#      copying pages);
#      the lock-held downtime is printed too;
#   3. peak RSS of the dry run and of apply (<= 64 MiB).
# Usage: bench/restore_bench.sh [build-dir] [work-dir]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-build/release}" && pwd)"
work="${2:-${TMPDIR:-/tmp}/restorekit-bench}"
RK="$build/cli/restorekit"
GEN="$build/tests/sample/restorekit-sample"
source "$here/common.sh"

set_dir="$work/restore"
if [ ! -f "$set_dir/app/live/app.sqlite" ]; then
  rm -rf "$set_dir" && mkdir -p "$set_dir"
  "$GEN" --out "$set_dir/app" --rows 1000000 --docs 4000 --doc-bytes 240000 >/dev/null
fi
cd "$set_dir"
[ -f backup.tar.zst ] || "$RK" backup --db app/app.sqlite --docs app/docs -o backup.tar.zst --quiet
[ -f staged.sqlite ] || cp app/app.sqlite staged.sqlite   # what the peer restores from

fresh_live() {  # a pristine live system for each apply
  rm -rf live && cp -a app/live live
}
fresh_live
echo "backup: $(du -h backup.tar.zst | cut -f1) archive, $(du -sch app/app.sqlite app/docs | tail -1 | cut -f1) payload; live database $(du -h live/app.sqlite | cut -f1); runs: median of $RUNS"
printf '\n%-52s %9s %9s %8s %s\n' "comparison" "ours s" "peer s" "ratio" "target"
line() { printf '%-52s %9.3f %9.3f %7.2fx %s\n' "$1" "$2" "$3" "$4" "$5"; }

dry_run() {
  "$RK" restore backup.tar.zst --live live/app.sqlite --live-docs live/docs --dry-run \
    --allow-schema-changes --quiet
}
extract_check() { extract_and_check backup.tar.zst db/app.sqlite "$set_dir" "$1" "${2:+live/app.sqlite}"; }
ours=$(median_time dry_run)
peer=$(median_time extract_check quick_check)
line "dry run vs bsdtar -xf + quick_check (time)" "$ours" "$peer" "$(ratio "$ours" "$peer")" "<= 1.3x"
peer=$(median_time extract_check integrity_check sqldiff)
line "dry run vs bsdtar -xf + integrity_check + sqldiff" "$ours" "$peer" "$(ratio "$peer" "$ours")" ">= 3x faster"

# Apply: each run on a fresh live copy with a fresh plan (neither is timed).
applies=() peers=() downtimes=() predictions=()
for _ in $(seq "$RUNS"); do
  fresh_live
  rm -rf plan
  planned=$("$RK" restore backup.tar.zst --live live/app.sqlite --live-docs live/docs --dry-run \
    --allow-schema-changes --plan-out plan --json)
  predictions+=("$(echo "$planned" | sed -n 's/.*"predicted_apply_seconds": *\([0-9.e+-]*\).*/\1/p' | head -1)")
  sync
  t0=$(date +%s.%N)
  out=$("$RK" restore --apply plan --json)
  t1=$(date +%s.%N)
  applies+=("$(echo "$t1 - $t0" | bc -l)")
  downtimes+=("$(echo "$out" | sed -n 's/.*"downtime_seconds": *\([0-9.e+-]*\).*/\1/p')")
  fresh_live
  sync
  t0=$(date +%s.%N)
  sqlite3 live/app.sqlite '.restore staged.sqlite'
  t1=$(date +%s.%N)
  peers+=("$(echo "$t1 - $t0" | bc -l)")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ours=$(median "${applies[@]}")
peer=$(median "${peers[@]}")
down=$(median "${downtimes[@]}")
line "apply (full restore) vs sqlite3 .restore" "$ours" "$peer" "$(ratio "$ours" "$peer")" "<= 0.5x"
line "  of which downtime (exclusive lock held)" "$down" "$peer" "$(ratio "$down" "$peer")" ""
pred=$(median "${predictions[@]}")
printf '%-52s %9.3f %9s %7.2fx %s\n' "  downtime predicted by the dry run" "$pred" "" \
  "$(ratio "$pred" "$down")" "(predicted / measured)"

echo
fresh_live
printf 'peak RSS dry run      %6d MiB (target <= 64 MiB)\n' "$(( $(peak_rss_kib "$RK" restore backup.tar.zst --live live/app.sqlite --live-docs live/docs --dry-run --allow-schema-changes --quiet) / 1024 ))"
rm -rf plan
"$RK" restore backup.tar.zst --live live/app.sqlite --live-docs live/docs --dry-run \
  --allow-schema-changes --plan-out plan --quiet
printf 'peak RSS apply        %6d MiB (target <= 64 MiB)\n' "$(( $(peak_rss_kib "$RK" restore --apply plan --quiet) / 1024 ))"
rm -rf live plan
