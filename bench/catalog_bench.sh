#!/usr/bin/env bash
# Catalog at scale (issue "catalog"): a catalog of 10,000 backups and 10 million entries,
# filled directly with SQL in restorekit's own schema, then timed: `catalog list`, `catalog
# best`, and `catalog find` for a file name, a folder prefix and a suffix pattern.
# Usage: bench/catalog_bench.sh [build-dir] [work-dir]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-build/release}" && pwd)"
work="${2:-${TMPDIR:-/tmp}/restorekit-bench}"
RK="$build/cli/restorekit"
source "$here/common.sh"
ARCHIVES="${ARCHIVES:-10000}"
PER_ARCHIVE="${PER_ARCHIVE:-1000}"
cat="$work/catalog-scale/catalog.sqlite"
if [ ! -f "$cat.done" ]; then
  rm -rf "$work/catalog-scale" && mkdir -p "$work/catalog-scale"
  "$RK" catalog list --catalog "$cat" >/dev/null   # creates the schema
  sqlite3 "$cat" <<SQL
PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
BEGIN;
WITH RECURSIVE a(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM a WHERE i < $ARCHIVES)
INSERT INTO archives SELECT i, printf('/backups/customer-%05d/backup-%05d.tar.zst', i % 97, i),
  100000000 + i, i * 1000000000, printf('%032x', i), 'restorekit', 'tar', 'GNU tar', 'zstd', 0,
  $PER_ARCHIVE, 1000000000, 400000000, $PER_ARCHIVE - 2, 900000000, 1700000000, 1700000000 + i * 60,
  '', 1, 1700000000 + i FROM a;
WITH RECURSIVE a(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM a WHERE i < $ARCHIVES)
INSERT INTO verifications SELECT i, 1700000000 + i, i % 10 <> 0, i % 10 = 0, 0 FROM a;
WITH RECURSIVE e(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM e WHERE n < $ARCHIVES * $PER_ARCHIVE - 1)
INSERT INTO entries SELECT n / $PER_ARCHIVE + 1, n % $PER_ARCHIVE,
  printf('docs/company-%03d/%04d/Rechnung_%d.pdf', n % 250, (n / 7) % 5000, n % 100000), 'file',
  10000 + n % 5000, 1700000000, 0, 1, printf('%032x', n % 3000000),
  printf('Rechnung_%d.pdf', n % 100000),
  printf('docs/company-%03d/%04d/Rechnung_%d.pdf', n % 250, (n / 7) % 5000, n % 100000),
  printf('Rechnung_%d.pdf', n % 100000) FROM e;
COMMIT;
SQL
  touch "$cat.done"
fi
echo "catalog: $(sqlite3 "$cat" 'SELECT count(*) FROM archives') backups, $(sqlite3 "$cat" 'SELECT count(*) FROM entries') entries, $(du -h "$cat" | cut -f1); runs: median of $RUNS"
printf '%-52s %9s\n' "query" "seconds"
t() { printf '%-52s %9.3f\n' "$1" "$(median_time "${@:2}")"; }
t "catalog list --json (all backups, status each)" "$RK" catalog list --catalog "$cat" --json
t "catalog best" "$RK" catalog best --catalog "$cat"
t "catalog find Rechnung_4711.pdf (a file name)" "$RK" catalog find Rechnung_4711.pdf --catalog "$cat" --limit 100000
t "catalog find 'docs/company-007/0042/*' (a folder)" "$RK" catalog find 'docs/company-007/0042/*' --catalog "$cat" --limit 100000
t "catalog find '*_4711.pdf' (a suffix: full scan)" "$RK" catalog find '*_4711.pdf' --catalog "$cat" --limit 100000
