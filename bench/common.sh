# Shared helpers for the whole-process benchmarks (sourced).
# median_time CMD...: median wall time in seconds over $RUNS runs (default 3); the command's
# output is discarded. peak_rss_kib CMD...: peak resident set size of one run.
RUNS="${RUNS:-3}"

median_time() {
  local times=() t0 t1
  for _ in $(seq "$RUNS"); do
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { rc=$?; [ "$rc" -le 1 ] || { echo "failed ($rc): $*" >&2; exit 1; }; }
    t1=$(date +%s.%N)
    times+=("$(echo "$t1 - $t0" | bc -l)")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

# median_pair "OURS" "PEER": both commands (shell strings) run alternately, $RUNS times each, so
# that a change in the machine's load hits both sides alike; prints "ours_median peer_median".
# Each runs once untimed first: the inputs are read into the page cache before either side is
# timed (the first timed run was ours, and it alone paid for the pages a host had evicted).
median_pair() {
  local a=() b=() t0 t1
  eval "$1" >/dev/null 2>&1 || true
  eval "$2" >/dev/null 2>&1 || true
  for _ in $(seq "$RUNS"); do
    for side in 0 1; do
      local cmd="$1"
      [ "$side" = 1 ] && cmd="$2"
      t0=$(date +%s.%N)
      eval "$cmd" >/dev/null 2>&1 || { rc=$?; [ "$rc" -le 1 ] || { echo "failed ($rc): $cmd" >&2; exit 1; }; }
      t1=$(date +%s.%N)
      if [ "$side" = 0 ]; then a+=("$(echo "$t1 - $t0" | bc -l)"); else b+=("$(echo "$t1 - $t0" | bc -l)"); fi
    done
  done
  local ma mb
  ma=$(printf '%s\n' "${a[@]}" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
  mb=$(printf '%s\n' "${b[@]}" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
  echo "$ma $mb"
}

# extract_and_check ARCHIVE DB_ENTRY WORKDIR PRAGMA [LIVE_DB]: the manual pipeline a user would
# run: bsdtar -xf into a fresh folder under WORKDIR, sqlite3 'PRAGMA <PRAGMA>' on the extracted
# database, and (with LIVE_DB) sqldiff against live; the folder is removed after.
extract_and_check() {
  local tmp
  tmp=$(mktemp -d "$3/peer.XXXXXX")
  bsdtar -xf "$1" -C "$tmp"
  sqlite3 "$tmp/$2" "PRAGMA $4" >/dev/null
  [ -n "${5:-}" ] && { sqldiff "$tmp/$2" "$5" >/dev/null || true; }
  rm -rf "$tmp"
}

peak_rss_kib() {  # the command may exit 1 (differences, problems found)
  { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null || true; } | tail -1
}

ratio() { echo "$1 / $2" | bc -l; }

# make_sample DIR ROWS DOCS DOC_BYTES: the sample application, generated once.
make_sample() {
  [ -f "$1/app/app.sqlite" ] && return
  rm -rf "$1" && mkdir -p "$1"
  "$GEN" --out "$1/app" --rows "$2" --docs "$3" --doc-bytes "$4" --no-live >/dev/null
}
