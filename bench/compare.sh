#!/usr/bin/env bash
# Every yardstick of DESIGN.md ("Performance yardsticks") on two datasets, each comparison timed
# against its peer tool in the same run (medians of $RUNS, default 3):
#   sample  restorekit's sample generator (300k rows, 2,000 documents of 100 KB);
#   crm     bench/make_crm.sh: another shape, made with stock tools only (10 tables of text-heavy
#           rows, composite keys, a keyless table, BLOBs, 6,000 small documents, a WAL-mode live
#           database a working day later);
#   many    100,000 small text documents (20-800 bytes) in 200 folders, no database: where the
#           cost per entry (names, the entry list, the checks after reading) shows, not the
#           cost per byte. Only the archive comparisons (tar.zst, tar.gz, zip) run on it.
# Archives: documents-only tar.zst / tar.gz by bsdtar, a zip of database + documents by Info-ZIP,
# restorekit's own tar.zst backups (database + documents, and documents with a one-row database).
# Ratios are "times faster" (peer time / ours) except where
# marked "x the peer's time".
# Usage: bench/compare.sh [build-dir] [work-dir] [datasets...]   (default: sample crm many)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-build/release}" && pwd)"
work="${2:-${TMPDIR:-/tmp}/restorekit-bench}"
shift $(($# > 2 ? 2 : $#))
datasets=(sample crm many)
[ $# -gt 0 ] && datasets=("$@")
RK="$build/cli/restorekit"
GEN="$build/tests/sample/restorekit-sample"
FLOOR="$build/bench/restorekit_decode_floor"
source "$here/common.sh"
mkdir -p "$work"

# Lays out dataset $1 under $work/cmp-$1: db, docs, live.db, live.docs and the four archives.
prepare() {
  local d="$work/cmp-$1"
  case "$1" in
    sample)
      if [ ! -f "$d/app/live/app.sqlite" ]; then
        rm -rf "$d" && mkdir -p "$d"
        "$GEN" --out "$d/app" --rows 300000 --docs 2000 --doc-bytes 100000 >/dev/null
      fi
      ln -sfn app/app.sqlite "$d/db"; ln -sfn app/docs "$d/docs"
      ln -sfn app/live/app.sqlite "$d/live.db"; ln -sfn app/live/docs "$d/live.docs" ;;
    crm)
      bash "$here/make_crm.sh" "$d/data"
      ln -sfn data/app/crm.sqlite "$d/db"; ln -sfn data/app/docs "$d/docs"
      ln -sfn data/live/crm.sqlite "$d/live.db"; ln -sfn data/live/docs "$d/live.docs" ;;
  esac
  cd "$d"
  local dbname
  dbname=$(basename "$(readlink -f db)")
  [ -f docs.tar.zst ] || (cd "$(readlink -f docs)/.." && bsdtar --zstd -cf "$d/docs.tar.zst" docs)
  [ -f docs.tar.gz ] || (cd "$(readlink -f docs)/.." && bsdtar -czf "$d/docs.tar.gz" docs)
  [ -f all.zip ] || (cd "$(readlink -f docs)/.." && zip -qr "$d/all.zip" "$dbname" docs)
  # Our own backups are written again by the build under test: what it writes is measured.
  rm -f backup.tar.zst
  "$RK" backup --db "$(readlink -f db)" --docs "$(readlink -f docs)" -o backup.tar.zst --quiet
  docs_backup
  [ -f staged.sqlite ] || cp "$(readlink -f db)" staged.sqlite  # what .restore restores from
  cd - >/dev/null
}

# Our backup of the folder ./docs alone, docs-backup.tar.zst (a one-row database: `backup`
# always takes one), written by the build under test.
docs_backup() {
  rm -f tiny.sqlite docs-backup.tar.zst
  sqlite3 tiny.sqlite 'CREATE TABLE t(x); INSERT INTO t VALUES (1);'
  "$RK" backup --db tiny.sqlite --docs "$(readlink -f docs)" -o docs-backup.tar.zst --quiet
}

# The many-documents folder, made with stock tools: each folder's lines split one per file.
prepare_many() {
  local d="$work/cmp-many"
  if [ ! -f "$d/docs.zip" ]; then
    rm -rf "$d" && mkdir -p "$d/docs"
    (
      cd "$d/docs"
      for f in $(seq -w 1 200); do
        mkdir "folder-$f"
        seq 1 500 | awk -v f="$f" '{ n = (($1 * 7919 + f * 104729) % 40) + 1; s = "";
          for (i = 0; i < n; i++) s = s sprintf("note %d of folder %s, line %d; ", $1, f, i);
          print s }' | split -l 1 -a 3 - "folder-$f/note-"
      done
    )
    (cd "$d" && bsdtar --zstd -cf docs.tar.zst docs && bsdtar -czf docs.tar.gz docs &&
      zip -qr docs.zip docs)
  fi
}

line() {  # name ours peer ratio target
  printf '%-58s %8.3f %8.3f %7.2fx  %s\n' "$1" "$2" "$3" "$4" "$5"
}
faster() { line "$1" "$2" "$3" "$(ratio "$3" "$2")" "$4"; }

# Each comparison alternates ours and the peer's runs (median_pair), so load changes on a
# shared machine hit both sides.
compare() {  # name target ours-cmd peer-cmd; leaves the peer's median in $last_peer
  local ours peer
  read -r ours peer < <(median_pair "$3" "$4")
  faster "$1" "$ours" "$peer" "$2"
  last_peer=$peer
}

# cpu_time CMD...: median user + system seconds of one run of CMD over $RUNS runs.
cpu_time() {
  local times=() out
  out=$(mktemp)
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -o "$out" -f '%U + %S' "$@" >/dev/null 2>&1 || true
    times+=("$(bc -l <"$out")")
  done
  rm -f "$out"
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

# decode_cpu [--hash] ARCHIVE: median CPU seconds of decoding ARCHIVE's compressed stream and
# nothing else (bench/decode_floor.cpp: libzstd or ISA-L as restorekit calls them; --hash adds
# XXH3-128 over every decoded byte).
decode_cpu() {
  local times=()
  for _ in $(seq "$RUNS"); do times+=("$("$FLOOR" "$@" | cut -d' ' -f1)"); done
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

# A ceiling line under a yardstick: the ratio no verify can beat, the peer's time ($last_peer,
# from the line above) over a floor no verify can go below.
ceiling() {  # name floor-seconds
  line "  ceiling: $1" "$2" "$last_peer" "$(ratio "$last_peer" "$2")" "(no verify beats it)"
}

# The archive comparisons, in the current folder: docs.tar.zst and docs.tar.gz by bsdtar, and
# the zip $1 by Info-ZIP, described as $2. A single zstd frame or deflate stream decodes on one
# core, so decoding it alone is a floor for any verify's wall time, whatever the other cores do.
compare_archives() {
  for fmt in tar.zst tar.gz; do
    compare "verify docs.$fmt (bsdtar) vs bsdtar -xOf" \
      "$([ "$fmt" = tar.zst ] && echo '>= 0.95x' || echo '>= 1.5x (ISA-L)')" \
      "'$RK' verify docs.$fmt --quiet --no-catalog" "bsdtar -xOf docs.$fmt > /dev/null"
    ceiling "decoding its one stream alone (one core)" "$(decode_cpu "docs.$fmt")"
  done
  compare "verify --threads 2 zip ($2) vs 7z t" ">= 1.3x" \
    "'$RK' verify $1 --threads 2 --quiet --no-catalog" "7z t $1"
  compare "verify --threads 2 zip ($2) vs unzip -tq" ">= 2.5x" \
    "'$RK' verify $1 --threads 2 --quiet --no-catalog" "unzip -tq $1"
}

# Our backup of the documents alone against bsdtar reading it.
compare_docs_backup() {
  compare "verify our docs-only backup (tar.zst frames) vs bsdtar -xOf" ">= 1.5x" \
    "'$RK' verify docs-backup.tar.zst --quiet --no-catalog" \
    "bsdtar -xOf docs-backup.tar.zst > /dev/null"
  # Our frames decode on every core: the floor is the CPU time of decoding them and of XXH3-128
  # over every byte (what verify checks each document against) spread over the cores.
  ceiling "(decoding + XXH3) CPU / $(nproc) cores" \
    "$(echo "$(decode_cpu --hash docs-backup.tar.zst) / $(nproc)" | bc -l)"
}

run_dataset() {
  local name="$1" d="$work/cmp-$1"
  prepare "$name"
  cd "$d"
  local dbfile
  dbfile=$(basename "$(readlink -f db)")
  echo
  echo "== $name: database $(du -Lh db | cut -f1), $(find -L docs -type f | wc -l) documents" \
    "($(du -Lsh docs | cut -f1)); runs: median of $RUNS"
  printf '%-58s %8s %8s %8s  %s\n' "comparison" "ours s" "peer s" "ratio" "target"
  local ours peer
  compare_archives all.zip "Info-ZIP, with db"
  compare_docs_backup
  local cores
  cores=$(nproc)
  manual_verify() {
    local tmp
    tmp=$(mktemp -d "$d/peer.XXXXXX")
    bsdtar -xf backup.tar.zst -C "$tmp"
    (cd "$tmp" && xxhsum -c --quiet restorekit/checksums.xxh128)
    sqlite3 "$tmp/db/$dbfile" 'PRAGMA integrity_check' >/dev/null
    rm -rf "$tmp"
  }
  compare "verify our backup vs bsdtar -xf + xxhsum -c + integrity" ">= 4x" \
    "'$RK' verify backup.tar.zst --quiet --no-catalog" manual_verify
  # Issue 14 part 1's bound: a whole verify costs at most 1.15x the larger of decoding the
  # archive alone (bsdtar -xOf, one core) and the database checks (sqlite3's integrity_check and
  # foreign_key_check of the same database, one process) divided by the cores.
  local decode checks verify_t bound
  decode=$(median_time bsdtar -xOf backup.tar.zst)
  checks=$(median_time sqlite3 db 'PRAGMA integrity_check; PRAGMA foreign_key_check')
  verify_t=$(median_time "$RK" verify backup.tar.zst --quiet --no-catalog)
  bound=$(echo "if ($decode > $checks / $(nproc)) $decode else $checks / $(nproc)" | bc -l)
  line "verify our backup vs max(decode, checks / $(nproc) cores) (x)" "$verify_t" "$bound" \
    "$(ratio "$verify_t" "$bound")" "<= 1.15x"
  # The bound's floor: the CPU time no verify can do without (decoding, XXH3 of every byte,
  # sqlite3's integrity_check) spread perfectly over the cores, as a multiple of the bound. The
  # foreign-key check is left out: restorekit counts keys to a parent's rowid from one scan
  # (verify/src/foreign_keys.cpp), for less than sqlite3's lookup per row.
  local floor
  floor=$(echo "($(decode_cpu --hash backup.tar.zst) + $(cpu_time sqlite3 db \
    'PRAGMA integrity_check')) / $cores" | bc -l)
  line "  floor: (decoding + XXH3 + integrity) CPU / $cores cores (x)" "$floor" "$bound" \
    "$(ratio "$floor" "$bound")" "(no verify goes below it)"

  compare "diff vs sqldiff --summary" ">= 4x" \
    "'$RK' diff db --live live.db --json --tenant-column company_id" "sqldiff --summary db live.db"
  compare "diff vs sqldiff" ">= 1.5x" \
    "'$RK' diff db --live live.db --json --tenant-column company_id" "sqldiff db live.db"

  fresh_live() { rm -rf live && mkdir live && cp "$(readlink -f live.db)" "live/$dbfile" \
    && cp -a "$(readlink -f live.docs)" live/docs; }
  fresh_live
  dry_run() {
    "$RK" restore backup.tar.zst --live "live/$dbfile" --live-docs live/docs --dry-run \
      --allow-schema-changes --quiet
  }
  manual_dry_run() { extract_and_check backup.tar.zst "db/$dbfile" "$d" integrity_check "live/$dbfile"; }
  compare "dry run vs bsdtar -xf + integrity_check + sqldiff" ">= 3x" dry_run manual_dry_run

  # Apply: each run on a fresh live system with a fresh plan (neither is timed). Like for like
  # with the peer, which restores the database only: a plan made with --no-docs; then a whole
  # restore with the documents, which the peer does not do.
  local applies=() peers=() downs=() doc_applies=() doc_downs=() out t0 t1
  apply_once() {  # apply_once DOCS_ARGS...: prints "seconds downtime"
    fresh_live && rm -rf plan
    "$RK" restore backup.tar.zst --live "live/$dbfile" "$@" --dry-run \
      --allow-schema-changes --plan-out plan --quiet
    sync
    t0=$(date +%s.%N)
    out=$("$RK" restore --apply plan --json)
    t1=$(date +%s.%N)
    echo "$(echo "$t1 - $t0" | bc -l) $(echo "$out" | sed -n 's/.*"downtime_seconds": *\([0-9.e+-]*\).*/\1/p' | head -1)"
  }
  for _ in $(seq "$RUNS"); do
    read -r t dt <<<"$(apply_once --no-docs)"
    applies+=("$t") downs+=("$dt")
    read -r t dt <<<"$(apply_once --live-docs live/docs)"
    doc_applies+=("$t") doc_downs+=("$dt")
    fresh_live && sync
    t0=$(date +%s.%N)
    sqlite3 "live/$dbfile" '.restore staged.sqlite'
    t1=$(date +%s.%N)
    peers+=("$(echo "$t1 - $t0" | bc -l)")
  done
  median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  ours=$(median "${applies[@]}")
  peer=$(median "${peers[@]}")
  line "apply (full restore) vs sqlite3 .restore (x the peer's time)" "$ours" "$peer" \
    "$(ratio "$ours" "$peer")" "<= 0.5x"
  local down
  down=$(median "${downs[@]}")
  line "  of which downtime (lock held)" "$down" "$peer" "$(ratio "$down" "$peer")" "<= 50 ms"
  ours=$(median "${doc_applies[@]}")
  line "apply with the documents too (x the peer's time)" "$ours" "$peer" "$(ratio "$ours" "$peer")" ""
  down=$(median "${doc_downs[@]}")
  line "  of which downtime (lock held)" "$down" "$peer" "$(ratio "$down" "$peer")" "<= 50 ms"

  fresh_live
  printf 'peak RSS MiB: verify zip %d, verify backup %d, diff %d, dry run %d (target <= 64)\n' \
    "$(($(peak_rss_kib "$RK" verify all.zip --threads 2 --quiet --no-catalog) / 1024))" \
    "$(($(peak_rss_kib "$RK" verify backup.tar.zst --quiet --no-catalog) / 1024))" \
    "$(($(peak_rss_kib "$RK" diff db --live live.db --json --tenant-column company_id) / 1024))" \
    "$(($(peak_rss_kib "$RK" restore backup.tar.zst --live "live/$dbfile" --live-docs live/docs \
      --dry-run --allow-schema-changes --quiet) / 1024))"
  rm -rf plan
  "$RK" restore backup.tar.zst --live "live/$dbfile" --live-docs live/docs --dry-run \
    --allow-schema-changes --plan-out plan --quiet
  printf 'peak RSS MiB: apply %d\n' "$(($(peak_rss_kib "$RK" restore --apply plan --quiet) / 1024))"
  rm -rf live plan
  cd - >/dev/null
}

run_many() {
  prepare_many
  cd "$work/cmp-many"
  echo
  echo "== many: $(find docs -type f | wc -l) documents ($(du -sh docs | cut -f1)), no database;" \
    "runs: median of $RUNS"
  printf '%-58s %8s %8s %8s  %s\n' "comparison" "ours s" "peer s" "ratio" "target"
  compare_archives docs.zip "Info-ZIP"
  docs_backup
  compare_docs_backup
  printf 'peak RSS MiB: verify tar.zst %d, verify zip %d, verify our backup %d (target <= 64)\n' \
    "$(($(peak_rss_kib "$RK" verify docs.tar.zst --quiet --no-catalog) / 1024))" \
    "$(($(peak_rss_kib "$RK" verify docs.zip --threads 2 --quiet --no-catalog) / 1024))" \
    "$(($(peak_rss_kib "$RK" verify docs-backup.tar.zst --quiet --no-catalog) / 1024))"
  cd - >/dev/null
}

for name in "${datasets[@]}"; do
  if [ "$name" = many ]; then run_many; else run_dataset "$name"; fi
done
