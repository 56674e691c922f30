// The catalog's tables, as SQL for each store, and the migrations between versions.
#pragma once

#include <cstdint>
#include <string_view>

namespace restorekit::catalog::detail {

// Version 4: the entries carry their NFC keys (path_key, file_key), which finds match and
// index, in both stores. A SQLite catalog of version 3 is migrated; older ones (a cache then)
// are rebuilt.
constexpr std::int64_t kSchemaVersion = 4;

constexpr std::string_view kSqliteSchema = R"sql(
CREATE TABLE IF NOT EXISTS archives(
  id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, head_tail TEXT NOT NULL,
  kind TEXT NOT NULL, format TEXT NOT NULL, format_detail TEXT NOT NULL, filters TEXT NOT NULL,
  encrypted INTEGER NOT NULL, entries INTEGER NOT NULL, bytes INTEGER NOT NULL,
  archive_bytes INTEGER NOT NULL, document_files INTEGER NOT NULL,
  document_bytes INTEGER NOT NULL, oldest_mtime INTEGER, newest_mtime INTEGER,
  header_json TEXT NOT NULL, listed INTEGER NOT NULL, indexed_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS entries(
  archive_id INTEGER NOT NULL, seq INTEGER NOT NULL, path TEXT NOT NULL, type TEXT NOT NULL,
  size INTEGER, mtime INTEGER NOT NULL, encrypted INTEGER NOT NULL, safe INTEGER NOT NULL,
  hash TEXT, name TEXT NOT NULL, path_key TEXT NOT NULL DEFAULT '',
  file_key TEXT NOT NULL DEFAULT '', PRIMARY KEY(archive_id, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_by_path_key ON entries(path_key);
CREATE INDEX IF NOT EXISTS entries_by_file_key ON entries(file_key);
CREATE TABLE IF NOT EXISTS databases(
  archive_id INTEGER NOT NULL, seq INTEGER NOT NULL, entry TEXT NOT NULL, kind TEXT NOT NULL,
  bytes INTEGER NOT NULL, user_version INTEGER NOT NULL, page_size INTEGER NOT NULL,
  PRIMARY KEY(archive_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS db_tables(
  archive_id INTEGER NOT NULL, db_seq INTEGER NOT NULL, seq INTEGER NOT NULL,
  name TEXT NOT NULL, rows INTEGER NOT NULL, PRIMARY KEY(archive_id, db_seq, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS db_tenants(
  archive_id INTEGER NOT NULL, db_seq INTEGER NOT NULL, seq INTEGER NOT NULL,
  id TEXT NOT NULL, label TEXT NOT NULL, rows INTEGER NOT NULL,
  PRIMARY KEY(archive_id, db_seq, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS verifications(
  archive_id INTEGER PRIMARY KEY, verified_at INTEGER NOT NULL, verdict TEXT NOT NULL,
  errors INTEGER NOT NULL, warnings INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS staged(
  path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
  head_tail TEXT NOT NULL, entry TEXT NOT NULL, file TEXT NOT NULL, used_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS findings(
  archive_id INTEGER NOT NULL, seq INTEGER NOT NULL, code TEXT NOT NULL, severity TEXT NOT NULL,
  entry TEXT NOT NULL, message TEXT NOT NULL, PRIMARY KEY(archive_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rounds(
  id INTEGER PRIMARY KEY, started_at INTEGER NOT NULL, finished_at INTEGER);
CREATE TABLE IF NOT EXISTS round_items(
  round INTEGER NOT NULL, archive TEXT NOT NULL, state TEXT NOT NULL,
  worker TEXT NOT NULL DEFAULT '', claims INTEGER NOT NULL DEFAULT 0,
  finishes INTEGER NOT NULL DEFAULT 0, heartbeat_ms INTEGER, verdict TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '', PRIMARY KEY(round, archive)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS round_items_open ON round_items(round, archive) WHERE state <> 'done';
)sql";

// Version 3 to 4: the keys, filled by the name_key SQL function, and their indexes in place of
// those on the raw names.
constexpr std::string_view kSqliteFrom3 = R"sql(
ALTER TABLE entries ADD COLUMN path_key TEXT NOT NULL DEFAULT '';
ALTER TABLE entries ADD COLUMN file_key TEXT NOT NULL DEFAULT '';
UPDATE entries SET path_key = name_key(path), file_key = name_key(name);
DROP INDEX IF EXISTS entries_by_path;
DROP INDEX IF EXISTS entries_by_name;
)sql";

// The same tables on PostgreSQL (columns in the same order: rows are read by position). Text
// that is sorted or matched is in the C collation: byte order, as SQLite sorts, whatever the
// server's locale, and an anchored pattern can use the keys' indexes.
constexpr std::string_view kPostgresSchema = R"sql(
CREATE TABLE IF NOT EXISTS archives(
  id BIGSERIAL PRIMARY KEY, path TEXT COLLATE "C" NOT NULL UNIQUE,
  size BIGINT NOT NULL, mtime_ns BIGINT NOT NULL, head_tail TEXT NOT NULL,
  kind TEXT NOT NULL, format TEXT NOT NULL, format_detail TEXT NOT NULL, filters TEXT NOT NULL,
  encrypted BIGINT NOT NULL, entries BIGINT NOT NULL, bytes BIGINT NOT NULL,
  archive_bytes BIGINT NOT NULL, document_files BIGINT NOT NULL,
  document_bytes BIGINT NOT NULL, oldest_mtime BIGINT, newest_mtime BIGINT,
  header_json TEXT NOT NULL, listed BIGINT NOT NULL, indexed_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS entries(
  archive_id BIGINT NOT NULL, seq BIGINT NOT NULL, path TEXT COLLATE "C" NOT NULL, type TEXT NOT NULL,
  size BIGINT, mtime BIGINT NOT NULL, encrypted BIGINT NOT NULL, safe BIGINT NOT NULL,
  hash TEXT, name TEXT NOT NULL, path_key TEXT COLLATE "C" NOT NULL,
  file_key TEXT COLLATE "C" NOT NULL, PRIMARY KEY(archive_id, seq));
CREATE INDEX IF NOT EXISTS entries_by_path_key ON entries(path_key);
CREATE INDEX IF NOT EXISTS entries_by_file_key ON entries(file_key);
CREATE TABLE IF NOT EXISTS databases(
  archive_id BIGINT NOT NULL, seq BIGINT NOT NULL, entry TEXT NOT NULL, kind TEXT NOT NULL,
  bytes BIGINT NOT NULL, user_version BIGINT NOT NULL, page_size BIGINT NOT NULL,
  PRIMARY KEY(archive_id, seq));
CREATE TABLE IF NOT EXISTS db_tables(
  archive_id BIGINT NOT NULL, db_seq BIGINT NOT NULL, seq BIGINT NOT NULL,
  name TEXT NOT NULL, rows BIGINT NOT NULL, PRIMARY KEY(archive_id, db_seq, seq));
CREATE TABLE IF NOT EXISTS db_tenants(
  archive_id BIGINT NOT NULL, db_seq BIGINT NOT NULL, seq BIGINT NOT NULL,
  id TEXT NOT NULL, label TEXT NOT NULL, rows BIGINT NOT NULL,
  PRIMARY KEY(archive_id, db_seq, seq));
CREATE TABLE IF NOT EXISTS verifications(
  archive_id BIGINT PRIMARY KEY, verified_at BIGINT NOT NULL, verdict TEXT NOT NULL,
  errors BIGINT NOT NULL, warnings BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS staged(
  path TEXT COLLATE "C" PRIMARY KEY, size BIGINT NOT NULL, mtime_ns BIGINT NOT NULL,
  head_tail TEXT NOT NULL, entry TEXT NOT NULL, file TEXT NOT NULL, used_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS findings(
  archive_id BIGINT NOT NULL, seq BIGINT NOT NULL, code TEXT NOT NULL, severity TEXT NOT NULL,
  entry TEXT NOT NULL, message TEXT NOT NULL, PRIMARY KEY(archive_id, seq));
CREATE TABLE IF NOT EXISTS rounds(
  id BIGSERIAL PRIMARY KEY, started_at BIGINT NOT NULL, finished_at BIGINT);
CREATE TABLE IF NOT EXISTS round_items(
  round BIGINT NOT NULL, archive TEXT COLLATE "C" NOT NULL, state TEXT NOT NULL,
  worker TEXT NOT NULL DEFAULT '', claims BIGINT NOT NULL DEFAULT 0,
  finishes BIGINT NOT NULL DEFAULT 0, heartbeat_ms BIGINT, verdict TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '', PRIMARY KEY(round, archive));
CREATE INDEX IF NOT EXISTS round_items_open ON round_items(round, archive) WHERE state <> 'done';
)sql";

}  // namespace restorekit::catalog::detail
