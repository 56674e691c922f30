// Writing a restorekit backup (format v1, backup_format.hpp) of a live SQLite database and an
// optional documents folder.
//
// Guarantees:
// - The database is copied with SQLite's online backup API in one read transaction, so the
//   snapshot is consistent while the application keeps writing, and holds a committed state.
// - The archive is written under a temporary name in the output's folder, fsynced, and renamed
//   to the final name only when complete: a failed, cancelled or interrupted backup never
//   leaves a file under the final name (nor the temporary one, except after SIGKILL).
// - Every file entry's XXH3-128 is computed while it is written and listed in
//   restorekit/checksums.xxh128, so `xxhsum -c` checks an extracted backup.
// Documents: regular files and directories are archived; symbolic links and special files are
// skipped and listed in BackupResult::skipped. A file that changes size while it is archived
// fails the backup (try again). Thread safety: one call per output.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <restorekit/core/archive_writer.hpp>
#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/error.hpp>
#include <restorekit/core/progress.hpp>
#include <restorekit/core/sqlite.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

struct BackupOptions {
  std::filesystem::path database;                  // the live SQLite database (required)
  std::optional<std::filesystem::path> documents;  // the live documents folder
  std::filesystem::path output;                    // .zip, .tar.gz, .tar.zst or .tar.xz (required)
  std::optional<std::string> password;             // AES-256 zip encryption (zip only)
  std::optional<TenantSpec> tenants;               // records per-tenant row counts in the header
  int level = -1;                                  // compression level; -1 = default
  int threads = 0;                                 // compressor threads (zstd, xz); 0 = one
  std::string tool_version = "0";                  // written into the header
  ProgressFn progress;                             // bytes of payload archived so far
  CancelToken cancel;
};

struct BackupResult {
  std::filesystem::path path;  // the final archive
  BackupHeader header;
  std::uint64_t archive_bytes = 0;
  std::vector<std::string> skipped;  // documents not archived (links, special files)
};

// Writes a backup. @error kInvalidArgument (bad option, unknown extension, output exists, a
// document name that cannot be stored safely), kNotFound (database or documents missing),
// kDatabase, kIo, kCancelled. On any error no file is left under options.output.
[[nodiscard]] Result<BackupResult> write_backup(const BackupOptions& options);

}  // namespace restorekit::core

#pragma GCC visibility pop
