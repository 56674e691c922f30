#!/usr/bin/env bash
# The PostgreSQL catalog at scale (issue 18): a throwaway server (Debian's postgresql: initdb +
# pg_ctl in the work folder, a Unix socket only) holding ARCHIVES backups (default 100,000) of
# PER_ARCHIVE entries each (default 1,000: 100 million), filled with SQL in restorekit's own
# schema, then timed as a user would: `catalog list`, `catalog best`, `catalog find` for a file
# name, a folder prefix and a suffix pattern; and the workers' claim throughput: pgbench runs
# the exact claim and finish statements of `catalog verify --worker` on 1 and 3 connections
# against a round over every backup.
# Usage: bench/catalog_pg_bench.sh [build-dir] [work-dir]   (ARCHIVES=, PER_ARCHIVE=, RUNS=)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-build/release}" && pwd)"
work="${2:-${TMPDIR:-/tmp}/restorekit-bench}"
RK="$build/cli/restorekit"
source "$here/common.sh"
ARCHIVES="${ARCHIVES:-100000}"
PER_ARCHIVE="${PER_ARCHIVE:-1000}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$bin/initdb" ] || { echo "no PostgreSQL server installed (apt-get install postgresql)"; exit 2; }
dir="$work/catalog-pg-$ARCHIVES-$PER_ARCHIVE"
as=()
if [ "$(id -u)" -eq 0 ]; then as=(runuser -u postgres --); fi
mkdir -p "$dir"
[ "$(id -u)" -eq 0 ] && chown postgres "$dir"
if [ ! -d "$dir/data" ]; then
  "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C --no-sync >/dev/null
fi
"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-c listen_addresses='' -k $dir \
  -p 5432 -c shared_buffers=2GB -c maintenance_work_mem=2GB -c max_wal_size=2GB" start >/dev/null
trap '"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null' EXIT
psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p 5432 -U postgres)
uri="postgresql:///catalog?host=$dir&port=5432&user=postgres"
if [ ! -f "$dir/filled" ]; then
  "${psql[@]}" -c 'DROP DATABASE IF EXISTS catalog' -c 'CREATE DATABASE catalog' postgres
  "$RK" catalog list --catalog "$uri" >/dev/null  # restorekit creates its schema
  echo "filling: $ARCHIVES backups x $PER_ARCHIVE entries"
  start=$(date +%s)
  "${psql[@]}" catalog <<SQL
-- The entries are written without WAL (a bench catalog; reads are the same): 100M rows
-- through the WAL took more time and disk than the rows themselves.
ALTER TABLE entries SET UNLOGGED;
ALTER TABLE entries DROP CONSTRAINT entries_pkey;
DROP INDEX entries_by_path_key; DROP INDEX entries_by_file_key;
INSERT INTO archives SELECT i, format('/backups/customer-%s/backup-%s.tar.zst', lpad((i % 97)::text, 5, '0'), lpad(i::text, 6, '0')),
  100000000 + i, i::bigint * 1000000000, lpad(to_hex(i), 32, '0'), 'restorekit', 'tar', 'GNU tar', 'zstd', 0,
  $PER_ARCHIVE, 1000000000, 400000000, $PER_ARCHIVE - 2, 900000000, 1700000000, 1700000000 + i * 60,
  '', 1, 1700000000 + i FROM generate_series(1, $ARCHIVES) i;
SELECT setval('archives_id_seq', $ARCHIVES);
INSERT INTO verifications SELECT i, 1700000000 + i, CASE WHEN i % 10 = 0 THEN 'damaged' ELSE 'intact' END,
  (i % 10 = 0)::int, 0 FROM generate_series(1, $ARCHIVES) i;
INSERT INTO entries SELECT n / $PER_ARCHIVE + 1, n % $PER_ARCHIVE, p, 'file', 10000 + n % 5000, 1700000000, 0, 1,
  lpad(to_hex(n % 3000000), 32, '0'), f, p, f
  FROM generate_series(0::bigint, $ARCHIVES::bigint * $PER_ARCHIVE - 1) n,
  LATERAL (SELECT format('docs/company-%s/%s/Rechnung_%s.pdf', lpad((n % 250)::text, 3, '0'),
                         lpad(((n / 7) % 5000)::text, 4, '0'), n % 100000) AS p,
                  format('Rechnung_%s.pdf', n % 100000) AS f) x;
ALTER TABLE entries ADD PRIMARY KEY (archive_id, seq);
CREATE INDEX entries_by_path_key ON entries(path_key);
CREATE INDEX entries_by_file_key ON entries(file_key);
INSERT INTO rounds VALUES (1, 1700000000, NULL);
INSERT INTO round_items(round, archive, state) SELECT 1, path, 'todo' FROM archives;
CREATE INDEX IF NOT EXISTS round_items_open ON round_items(round, archive) WHERE state <> 'done';
VACUUM ANALYZE;
SQL
  echo "filled in $(($(date +%s) - start)) s"
  touch "$dir/filled"
fi
size=$("${psql[@]}" -At -c "SELECT pg_size_pretty(pg_database_size('catalog'))" postgres)
echo "catalog: $("${psql[@]}" -At -c 'SELECT count(*) FROM archives' catalog) backups," \
  "$("${psql[@]}" -At -c 'SELECT count(*) FROM entries' catalog) entries, $size; runs: median of $RUNS"
printf '%-56s %9s\n' "query" "seconds"
t() { printf '%-56s %9.3f\n' "$1" "$(median_time "${@:2}")"; }
t "catalog list --json (all backups, status each)" "$RK" catalog list --catalog "$uri" --json
t "catalog best" "$RK" catalog best --catalog "$uri"
t "catalog find Rechnung_4711.pdf (a file name)" "$RK" catalog find Rechnung_4711.pdf --catalog "$uri" --limit 100000
t "catalog find 'docs/company-007/0042/*' (a folder)" "$RK" catalog find 'docs/company-007/0042/*' --catalog "$uri" --limit 100000
t "catalog find '*_4711.pdf' (a suffix: full scan)" "$RK" catalog find '*_4711.pdf' --catalog "$uri" --limit 100000
# Claim throughput: the worker's statements (catalog/src/index.cpp: claim, finish), each claim
# followed by its finish, on a fresh round over every backup, half of which are claimed.
cat > "$dir/claim.sql" <<'SQL'
\set w random(1, 1000000)
UPDATE round_items SET state = 'claimed', worker = 'w' || :w, claims = claims + 1, heartbeat_ms = 2 WHERE round = 1 AND archive = (SELECT archive FROM round_items WHERE round = 1 AND state <> 'done' AND (state = 'todo' OR (state = 'claimed' AND heartbeat_ms < 1)) ORDER BY archive LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING archive AS claimed \gset
UPDATE round_items SET state = 'done', finishes = finishes + 1, verdict = 'intact', message = '' WHERE round = 1 AND archive = :claimed;
SQL
for clients in 1 3; do
  "${psql[@]}" -c "UPDATE round_items SET state = 'todo', claims = 0, finishes = 0" catalog
  # Half the round's archives in all (a claim that finds none would end pgbench's \gset).
  per_client=$((ARCHIVES / clients / 2))
  tps=$("$bin/pgbench" -n -M prepared -h "$dir" -p 5432 -U postgres -c "$clients" -j "$clients" \
    -t "$per_client" -f "$dir/claim.sql" catalog | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  done_items=$("${psql[@]}" -At -c "SELECT count(*) FROM round_items WHERE state = 'done'" catalog)
  twice=$("${psql[@]}" -At -c "SELECT count(*) FROM round_items WHERE claims > 1" catalog)
  printf '%-56s %9s\n' "claims + finishes per second, $clients connection(s)" "$tps"
  echo "  ($done_items archives claimed and done, $twice claimed twice)"
done
