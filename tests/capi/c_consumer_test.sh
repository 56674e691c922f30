#!/usr/bin/env bash
# Runs the C consumer (c_consumer.c) on data made with stock tools: a sqlite3 database and a
# documents folder in a password zip made by Info-ZIP, and a live copy that moved on since.
# Usage: c_consumer_test.sh C_CONSUMER
set -euo pipefail
for tool in sqlite3 zip; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIPPED: $tool is not installed (scripts/setup-deps.sh installs it)"
    exit 77
  fi
done
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
sqlite3 app.db "CREATE TABLE note(id INTEGER PRIMARY KEY, body TEXT);
  INSERT INTO note(body) VALUES ('first'), ('second');"
mkdir -p docs && echo "a document" >docs/a.txt
zip -qr -P sesame locked.zip app.db docs
mkdir live && cp app.db live/app.db
sqlite3 live/app.db "INSERT INTO note(body) VALUES ('written after the backup');"
"$1" "$tmp/locked.zip" sesame "$tmp/live/app.db"
