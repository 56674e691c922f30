#!/usr/bin/env bash
# Apply's downtime (the exclusive lock held) by database size: DESIGN.md wants <= 50 ms at
# 1 MB, 100 MB and 1 GB alike, which only a restore by swap can give (a copy grows with the
# size). For each size a database made by sqlite3 (text rows and 1 kB blobs, an index), a
# backup of it by `restorekit backup`, and a live copy a day later (a few rows changed), in
# rollback-journal mode and in WAL mode with uncheckpointed frames in its -wal (an application
# that died: the swap checkpoints them under the lock). Each apply runs from a fresh plan on a
# fresh live copy; the peer is `sqlite3 live.db '.restore staged.db'` on the same live copy.
# Usage: bench/downtime_bench.sh [build-dir] [work-dir]     SIZES_MB="1 100 1000" RUNS=3
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-build/release}" && pwd)"
work="${2:-${TMPDIR:-/tmp}/restorekit-bench}/downtime"
RK="$build/cli/restorekit"
source "$here/common.sh"
mkdir -p "$work"
cd "$work"

make_set() {  # make_set MB: db-MB/{backup.tar.zst,live.sqlite,staged.sqlite}
  local dir="db-$1" rows=$(($1 * 1000 * 1000 / 1400))
  [ -f "$dir/backup.tar.zst" ] && return
  rm -rf "$dir" && mkdir -p "$dir"
  sqlite3 "$dir/app.sqlite" "
    PRAGMA page_size=4096;
    CREATE TABLE notes(id INTEGER PRIMARY KEY, owner INTEGER, title TEXT, body BLOB);
    CREATE INDEX notes_owner ON notes(owner);
    INSERT INTO notes(owner, title, body)
      SELECT value % 97, 'note ' || value || ' ' || hex(randomblob(40)), randomblob(1000)
      FROM generate_series(1, $rows);"
  "$RK" backup --db "$dir/app.sqlite" -o "$dir/backup.tar.zst" --quiet
  cp "$dir/app.sqlite" "$dir/staged.sqlite"  # what the peer restores from
  cp "$dir/app.sqlite" "$dir/live.sqlite"
  sqlite3 "$dir/live.sqlite" "UPDATE notes SET title = 'changed' WHERE id % 1000 = 0;
    INSERT INTO notes(owner, title, body) SELECT 1, 'new', randomblob(1000) FROM generate_series(1, 50);"
}

fresh_live() {  # fresh_live DIR MODE
  rm -rf "$1/live" && mkdir -p "$1/live"
  cp "$1/live.sqlite" "$1/live/app.sqlite"
  if [ "$2" = wal ]; then
    sqlite3 "$1/live/app.sqlite" "PRAGMA journal_mode=WAL" >/dev/null
    # Rows left in the -wal by an application that did not close cleanly.
    python3 - "$1/live/app.sqlite" <<'PY'
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA wal_autocheckpoint=0")
c.execute("UPDATE notes SET title = 'in the wal' WHERE id % 500 = 1")
c.commit()
os._exit(0)
PY
  fi
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-8s %-8s %10s %12s %12s %10s %s\n' "size" "live" "downtime s" "apply s" "peer s" "method" "target"
for mb in ${SIZES_MB:-1 100 1000}; do
  make_set "$mb"
  dir="db-$mb"
  for mode in delete wal; do
    downs=() applies=() peers=() method=""
    for _ in $(seq "$RUNS"); do
      fresh_live "$dir" "$mode"
      rm -rf "$dir/plan"
      "$RK" restore "$dir/backup.tar.zst" --live "$dir/live/app.sqlite" --no-docs --dry-run \
        --plan-out "$dir/plan" --quiet
      sync
      t0=$(date +%s.%N)
      out=$("$RK" restore --apply "$dir/plan" --json)
      t1=$(date +%s.%N)
      applies+=("$(echo "$t1 - $t0" | bc -l)")
      downs+=("$(echo "$out" | sed -n 's/.*"downtime_seconds": *\([0-9.e+-]*\).*/\1/p' | head -1)")
      method=$(echo "$out" | sed -n 's/.*"method": *"\([a-z]*\)".*/\1/p' | head -1)
      fresh_live "$dir" "$mode"
      sync
      t0=$(date +%s.%N)
      sqlite3 "$dir/live/app.sqlite" ".restore $dir/staged.sqlite"
      t1=$(date +%s.%N)
      peers+=("$(echo "$t1 - $t0" | bc -l)")
    done
    printf '%-8s %-8s %10.4f %12.3f %12.3f %10s %s\n' "${mb} MB" "$mode" "$(median "${downs[@]}")" \
      "$(median "${applies[@]}")" "$(median "${peers[@]}")" "$method" "downtime <= 0.050 s"
  done
  rm -rf "$dir/live" "$dir/plan"
done
