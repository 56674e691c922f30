#!/usr/bin/env bash
# Whole-process benchmark of `restorekit verify` against the tools a user would otherwise use,
# measured in the same run (DESIGN.md, "Performance yardsticks"). The sample generator builds
# a ~1 GB application (database + thousands of documents); archives are made by peer tools.
#   1. archive pass, documents-only tar.zst / tar.gz: verify vs `bsdtar -xOf A >/dev/null`
#      (target: >= 0.95x the peer's throughput);
#   2. multi-file zip: `verify --threads 2` vs `unzip -tq` (>= 1.6x) and `7z t` (>= 1.2x);
#   3. whole job on our tar.zst backup: verify vs `bsdtar -xf` + `xxhsum -c` + sqlite3
#      integrity_check (>= 5x);
#   4. peak RSS of every verify run (<= 64 MiB).
# Usage: bench/verify_bench.sh [build-dir] [work-dir]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build/release}"
work="${2:-${TMPDIR:-/tmp}/restorekit-bench}"
RK="$build/cli/restorekit"
GEN="$build/tests/sample/restorekit-sample"
source "$here/common.sh"

set_dir="$work/large"
make_sample "$set_dir" 1000000 4000 240000
app="$set_dir/app"
cd "$set_dir"
[ -f docs.tar.zst ] || (cd app && tar --zstd -cf ../docs.tar.zst docs)
[ -f docs.tar.gz ] || (cd app && tar -czf ../docs.tar.gz docs)
[ -f docs.zip ] || (cd app && zip -qr ../docs.zip docs)
[ -f backup.tar.zst ] || "$OLDPWD/$RK" backup --db app/app.sqlite --docs app/docs -o backup.tar.zst --quiet 2>/dev/null \
  || "$RK" backup --db app/app.sqlite --docs app/docs -o backup.tar.zst --quiet
cd - >/dev/null
rk() { "$RK" "$@"; }

echo "payload: $(du -sh "$app" | cut -f1) ($(find "$app/docs" -type f | wc -l) documents); runs: median of $RUNS"
printf '\n%-46s %10s %10s %8s %s\n' "comparison" "ours s" "peer s" "ratio" "target"
line() { printf '%-46s %10.3f %10.3f %7.2fx %s\n' "$1" "$2" "$3" "$(ratio "$3" "$2")" "$4"; }

for fmt in tar.zst tar.gz; do
  ours=$(median_time rk verify "$set_dir/docs.$fmt" --quiet --no-catalog)
  peer=$(median_time sh -c "bsdtar -xOf '$set_dir/docs.$fmt' > /dev/null")
  line "verify $fmt vs bsdtar -xOf (throughput)" "$ours" "$peer" ">= 0.95x"
done

ours=$(median_time rk verify "$set_dir/docs.zip" --threads 2 --quiet --no-catalog)
peer=$(median_time unzip -tq "$set_dir/docs.zip")
line "verify --threads 2 zip vs unzip -tq" "$ours" "$peer" ">= 1.6x"
peer=$(median_time 7z t "$set_dir/docs.zip")
line "verify --threads 2 zip vs 7z t" "$ours" "$peer" ">= 1.2x"

manual() {
  local tmp
  tmp=$(mktemp -d)
  bsdtar -xf "$set_dir/backup.tar.zst" -C "$tmp"
  (cd "$tmp" && xxhsum -c --quiet restorekit/checksums.xxh128)
  sqlite3 "$tmp/db/app.sqlite" 'PRAGMA integrity_check' >/dev/null
  rm -rf "$tmp"
}
ours=$(median_time rk verify "$set_dir/backup.tar.zst" --quiet --no-catalog)
peer=$(median_time manual)
line "verify backup vs bsdtar -xf+xxhsum -c+sqlite3" "$ours" "$peer" ">= 5x"

echo
for a in docs.tar.zst docs.tar.gz docs.zip backup.tar.zst; do
  printf 'peak RSS verify %-16s %6d MiB (target <= 64 MiB)\n' "$a" \
    "$(( $(peak_rss_kib "$RK" verify "$set_dir/$a" --quiet --no-catalog) / 1024 ))"
done
