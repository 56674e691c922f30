#!/usr/bin/env bash
# catalog where (issue 17, part 2) on a catalog of $BACKUPS (default 30) daily backups of the
# sample application (300,000 rows, 200 documents), each made by restorekit's backup after a
# day's edits (one person renamed, one deleted). Timed, per backup: `catalog where persons:ID`
# the first time (each archive read up to its database entry) and again (the index's kept copies
# serve the newest few), against the manual pipeline a support engineer would run per backup
# (`bsdtar -xOf` the database to a file, then `sqlite3 ... WHERE id = ID`).
# Usage: bench/where_bench.sh [build-dir] [work-dir]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-build/release}" && pwd)"
work="${2:-${TMPDIR:-/tmp}/restorekit-bench}/where"
RK="$build/cli/restorekit"
GEN="$build/tests/sample/restorekit-sample"
source "$here/common.sh"
BACKUPS="${BACKUPS:-30}"
mkdir -p "$work"
if [ ! -f "$work/done-$BACKUPS" ]; then
  rm -rf "$work" && mkdir -p "$work/backups"
  "$GEN" --out "$work/app" --rows 300000 --docs 200 --doc-bytes 20000 >/dev/null
  for i in $(seq 1 "$BACKUPS"); do
    sqlite3 "$work/app/app.sqlite" \
      "UPDATE persons SET last_name = last_name || ' (day $i)' WHERE id = $((100 + i));
       DELETE FROM person_tags WHERE person_id = $((500 + i));
       DELETE FROM persons WHERE id = $((500 + i)) AND NOT EXISTS
         (SELECT 1 FROM appointments WHERE person_id = $((500 + i)))"
    "$RK" backup --db "$work/app/app.sqlite" --docs "$work/app/docs" \
      -o "$work/backups/day-$(printf %02d "$i").tar.zst" --quiet
  done
  touch "$work/done-$BACKUPS"
fi
cat="$work/catalog.sqlite"
dbentry=$(bsdtar -tf "$work/backups/day-01.tar.zst" | grep -m1 -v '^restorekit/header.json$')
row=$((100 + BACKUPS / 2))
size=$(du -sh "$work/backups" | cut -f1)
echo "catalog where on $BACKUPS backups ($size), row persons:$row; medians of $RUNS"
cold() {
  rm -rf "$cat" "$cat.staged" "$cat-wal" "$cat-shm"
  "$RK" catalog add "$work/backups" --catalog "$cat" --quiet
  local t0 t1
  t0=$(date +%s.%N)
  "$RK" catalog where "persons:$row" --catalog "$cat" --quiet
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
colds=()
for _ in $(seq "$RUNS"); do colds+=("$(cold)"); done
cold_t=$(printf '%s\n' "${colds[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
warm_t=$(median_time "$RK" catalog where "persons:$row" --catalog "$cat" --quiet)
manual() {
  for f in "$work"/backups/*.tar.zst; do
    bsdtar -xOf "$f" "$dbentry" > "$work/manual.sqlite"
    sqlite3 "$work/manual.sqlite" "SELECT * FROM persons WHERE id = $row" >/dev/null
  done
  rm -f "$work/manual.sqlite"
}
manual_t=$(median_time manual)
printf '%-58s %8s %10s\n' "" "seconds" "per backup"
printf '%-58s %8.3f %9.3fs\n' "catalog where, first run (archives read to the database)" \
  "$cold_t" "$(echo "$cold_t / $BACKUPS" | bc -l)"
printf '%-58s %8.3f %9.3fs\n' "catalog where, again (index copies for the newest 4)" \
  "$warm_t" "$(echo "$warm_t / $BACKUPS" | bc -l)"
printf '%-58s %8.3f %9.3fs\n' "bsdtar -xOf database + sqlite3 SELECT, per backup" \
  "$manual_t" "$(echo "$manual_t / $BACKUPS" | bc -l)"
printf '%-58s %7.2fx\n' "first run vs the manual pipeline (times faster)" \
  "$(echo "$manual_t / $cold_t" | bc -l)"
