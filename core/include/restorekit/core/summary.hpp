// ArchiveSummary: what restorekit knows about one backup archive without restoring it — the
// result model of `inspect`, and what the index (index.hpp) stores per archive so that a
// repeated inspect of an unchanged archive costs nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/finding.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/sqlite.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

// Identity of an archive file: cheap to compute, changes whenever the file does in practice.
struct Fingerprint {
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  Digest128 head_tail;  // XXH3-128 of the first and last 64 KiB and 32 spread 4 KiB blocks
  friend bool operator==(const Fingerprint&, const Fingerprint&) = default;
};

// @error kNotFound, kIo, kInvalidArgument (not a regular file).
[[nodiscard]] Result<Fingerprint> fingerprint_file(const std::filesystem::path& path);

// How a database sits in an archive: a SQLite file, or a SQL text dump loaded into one.
enum class DatabaseFormat { kSqlite, kSqlDump };
std::string_view database_format_name(DatabaseFormat format);     // "sqlite", "sql-dump"
DatabaseFormat database_format_from_name(std::string_view name);  // unknown: kSqlite

struct DatabaseInfo {
  std::string entry;  // archive path of the database entry
  DatabaseFormat kind = DatabaseFormat::kSqlite;
  std::uint64_t bytes = 0;
  std::int64_t user_version = 0;
  std::int64_t page_size = 0;
  std::vector<HeaderTable> tables;
  std::vector<TenantCount> tenants;
};

struct EntryRecord {
  std::string path;  // normalised path, or the raw name for an unsafe entry
  EntryType type = EntryType::kFile;
  std::optional<std::uint64_t> size;
  std::int64_t mtime = 0;
  bool encrypted = false;
  bool safe = true;
  std::optional<Digest128> hash;  // when known (verify, backup checksums)
};

enum class BackupKind { kRestorekit, kForeign };

struct ArchiveSummary {
  std::string path;
  Fingerprint fingerprint;
  BackupKind kind = BackupKind::kForeign;
  ArchiveInfo archive;  // format, libarchive's format name, filters
  bool encrypted = false;
  std::uint64_t entries = 0;
  std::uint64_t bytes = 0;  // payload: databases + documents (uncompressed)
  std::uint64_t archive_bytes = 0;
  std::uint64_t document_files = 0;
  std::uint64_t document_bytes = 0;
  std::optional<std::int64_t> oldest_mtime;  // time range of the entries, when listed
  std::optional<std::int64_t> newest_mtime;
  std::optional<BackupHeader> header;  // restorekit backups
  std::string header_json;             // the header entry verbatim (restorekit backups)
  std::vector<DatabaseInfo> databases;
  std::vector<Finding> findings;  // warnings about the archive (unsafe entries, ...)
  bool listed = false;            // the entry listing was read completely
};

}  // namespace restorekit::core

#pragma GCC visibility pop
