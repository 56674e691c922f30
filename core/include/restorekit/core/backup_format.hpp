// restorekit backup format v1 (DESIGN.md, "Backup format v1"): the header entry that comes
// first, and the checksum entry that comes last.
//
//   restorekit/header.json       first: BackupHeader as JSON
//   db/<name>.sqlite             database snapshot(s)
//   docs/...                     the documents tree
//   restorekit/checksums.xxh128  last: "<32 hex XXH3-128>  <path>\n" per other file entry,
//                                exactly what `xxhsum -H2` writes
//
// Parsing functions treat their input as untrusted. Thread-safe (pure functions).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <restorekit/core/error.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/sqlite.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

inline constexpr std::string_view kFormatV1 = "restorekit-backup/1";
inline constexpr std::string_view kHeaderEntry = "restorekit/header.json";
inline constexpr std::string_view kChecksumsEntry = "restorekit/checksums.xxh128";
inline constexpr std::uint64_t kMaxHeaderBytes = 16u << 20;

struct HeaderTable {
  std::string name;
  std::uint64_t rows = 0;
};

struct HeaderDatabase {
  std::string entry;  // e.g. "db/app.sqlite"
  std::uint64_t bytes = 0;
  std::int64_t user_version = 0;
  std::int64_t page_size = 0;
  std::vector<HeaderTable> tables;
  std::vector<TenantCount> tenants;  // empty unless a tenant column was known
};

struct BackupHeader {
  std::string format{kFormatV1};
  std::string created_at;  // RFC 3339 UTC, e.g. "2026-11-22T01:02:03Z"
  std::string tool_name = "restorekit";
  std::string tool_version;
  std::string source_host;
  std::string source_database;
  std::string source_documents;  // empty when the backup has no documents
  std::optional<std::string> tenant_column;
  std::vector<HeaderDatabase> databases;
  std::string documents_root = "docs/";
  std::uint64_t document_files = 0;
  std::uint64_t document_bytes = 0;
  std::uint64_t total_entries = 0;  // every entry of the archive, both restorekit/ entries too
  std::uint64_t total_bytes = 0;    // payload: database bytes + document bytes
};

// The header as a compact JSON document.
std::string header_to_json(const BackupHeader& header);

// Parses header.json. Input: untrusted (size-checked by the caller against kMaxHeaderBytes).
// @error kBadBackup naming the field that is missing, of the wrong type, or when the format is
//   not restorekit-backup/1.
[[nodiscard]] Result<BackupHeader> parse_header(std::string_view json);

struct ChecksumLine {
  std::string path;
  Digest128 digest;
};

// "<hex>  <path>\n", as xxhsum -H2 prints it.
std::string checksum_line(std::string_view path, const Digest128& digest);

// Parses a restorekit/checksums.xxh128 text. Input: untrusted.
// @error kBadBackup naming the line number of a malformed line.
[[nodiscard]] Result<std::vector<ChecksumLine>> parse_checksums(std::string_view text);

// RFC 3339 UTC form of a Unix time.
std::string rfc3339_utc(std::int64_t unix_seconds);

}  // namespace restorekit::core

#pragma GCC visibility pop
