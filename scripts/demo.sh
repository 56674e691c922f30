#!/usr/bin/env bash
# The demo: installs dependencies, builds, generates a sample application (database +
# documents), backs it up with restorekit and inspects the backup.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh
bash scripts/build.sh release
bin=build/release
demo="${DEMO_DIR:-build/demo}"
rm -rf "$demo"
mkdir -p "$demo"

echo "== generating a sample CRM application in $demo/app"
"$bin/tests/sample/restorekit-sample" --out "$demo/app" --rows 50000 --docs 300

echo "== restorekit backup"
"$bin/cli/restorekit" backup --db "$demo/app/app.sqlite" --docs "$demo/app/docs" \
  --profile "$demo/app/profile.toml" -o "$demo/backup.tar.zst"

echo "== restorekit inspect (reads only the header entry)"
"$bin/cli/restorekit" inspect "$demo/backup.tar.zst" --catalog "$demo/catalog.sqlite"

echo "== restorekit verify (every byte: checksums, structure, database integrity, documents)"
"$bin/cli/restorekit" verify "$demo/backup.tar.zst" --profile "$demo/app/profile.toml" \
  --junit "$demo/verify-junit.xml"

echo "== a damaged copy (the last third cut off): verify names the problem and exits 1"
head -c "$(( $(stat -c %s "$demo/backup.tar.zst") * 2 / 3 ))" "$demo/backup.tar.zst" > "$demo/damaged.tar.zst"
"$bin/cli/restorekit" verify "$demo/damaged.tar.zst" || echo "(exit code $?)"

echo "== restorekit diff: what restoring this backup would do to the live system (a working day later)"
"$bin/cli/restorekit" diff "$demo/backup.tar.zst" --live "$demo/app/live/app.sqlite" \
  --live-docs "$demo/app/live/docs" --profile "$demo/app/profile.toml" --rows 1 \
  || echo "(exit code $?: differences found)"

echo "== the same backup checked with stock tools: bsdtar + xxhsum -c"
mkdir -p "$demo/extracted"
bsdtar -xf "$demo/backup.tar.zst" -C "$demo/extracted"
(cd "$demo/extracted" && xxhsum -c --quiet restorekit/checksums.xxh128 && echo "xxhsum: all checksums OK")

echo "== a foreign backup (zip made by Info-ZIP), inspected by content"
(cd "$demo/app" && zip -qr ../foreign.zip app.sqlite docs)
"$bin/cli/restorekit" inspect "$demo/foreign.zip" --profile "$demo/app/profile.toml" \
  --catalog "$demo/catalog.sqlite"

echo "== restorekit restore --dry-run: is it safe to restore, what would it change, how long would it take?"
echo "   (the live application was upgraded since the backup: the dry run blocks and says why)"
"$bin/cli/restorekit" restore "$demo/backup.tar.zst" --live "$demo/app/live/app.sqlite" \
  --live-docs "$demo/app/live/docs" --profile "$demo/app/profile.toml" --dry-run \
  || echo "(exit code $?: blocked)"
echo "== the same dry run, accepting the older schema, keeping the plan for apply"
rm -rf "$demo/plan"
"$bin/cli/restorekit" restore "$demo/backup.tar.zst" --live "$demo/app/live/app.sqlite" \
  --live-docs "$demo/app/live/docs" --profile "$demo/app/profile.toml" --dry-run \
  --allow-schema-changes --plan-out "$demo/plan"
