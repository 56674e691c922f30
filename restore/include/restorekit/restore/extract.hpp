// extract(): gets chosen files back out of a backup, each one checked, into a folder.
//
// One pass over the archive. Entries whose path matches one of the patterns (globs under the
// one name rule, core::NamePattern; none: every entry) are written, as they stream by, to a
// private folder inside the target folder while their XXH3-128 is computed. After the pass,
// each file is checked against the backup's checksums (restorekit/checksums.xxh128 in our
// backups, the last entry, and/or a list the caller gives) and only a file that read cleanly
// and matches is renamed into place: a damaged file never appears under its name, and nothing
// is left half written. Only safe regular files and folders are extracted (the reader's path
// rules: no absolute names, no "..", no links, devices or FIFOs); a folder on the way that is a
// symbolic link in the target is refused, never followed. An existing file is replaced only
// with Overwrite::kReplace (atomically); otherwise it stops the run before anything is placed.
//
// Input: untrusted archives. Thread safety: one call per target folder at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/error.hpp>
#include <restorekit/core/finding.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/profile.hpp>
#include <restorekit/core/progress.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::restore {

enum class ExtractMode { kWrite, kListOnly };

// One row of a table, by its primary key (the rowid for a table without one); a composite key's
// values in key order.
struct RowRef {
  std::string table;
  std::vector<std::string> key;
};

// Documents chosen through the database: those that the rows of these tenants name, and those
// that these rows (or rows pointing at them through a declared foreign key) name, in the
// profile's `documents.references` columns.
struct DocumentChoice {
  std::vector<std::string> tenants;
  std::vector<RowRef> rows;
  [[nodiscard]] bool any() const { return !tenants.empty() || !rows.empty(); }
};
enum class Overwrite { kNever, kReplace };

struct ExtractOptions {
  std::vector<std::string> patterns;  // globs; empty (and no `documents`): every entry
  // Documents chosen through the backup's database (needs `profile` with references; tenants
  // need its tenant column). Taken together with the patterns.
  DocumentChoice documents;
  std::optional<core::Profile> profile;
  std::filesystem::path out;  // target folder, created when absent (kWrite only)
  ExtractMode mode = ExtractMode::kWrite;
  Overwrite overwrite = Overwrite::kNever;
  core::ReaderOptions reader;                           // passwords, limits
  std::optional<std::filesystem::path> checksums_file;  // an xxhsum list to check against too
  ProgressFn progress;                                  // bytes of the archive read
  CancelToken cancel;
};

// What a file's bytes were checked against.
enum class CheckedBy {
  kChecksumList,  // an XXH3-128 (or other xxhsum) line for it
  kArchive,       // only the archive's own checks (zip CRC-32, gzip/zstd/xz checks)
  kNothing,       // a format without checks (plain tar) and no list names it
};

struct ExtractedEntry {
  std::string path;  // archive path, as stored (untrusted: escape before printing)
  bool folder = false;
  std::uint64_t bytes = 0;
  std::optional<core::Digest128> xxh128;  // of what was read (files read cleanly)
  CheckedBy checked = CheckedBy::kNothing;
  bool placed = false;  // written under its name (false for --list and for failed files)
};

// The matched entries of one extract, in archive order, kept on disk (a private temporary
// SQLite file, deleted with the listing), so that memory does not grow with them. Read-only once
// extract() returns; one thread at a time.
class ExtractListing {
 public:
  virtual ~ExtractListing() = default;
  // Matched entries (files and folders).
  [[nodiscard]] virtual std::uint64_t size() const = 0;
  // Every matched entry in archive order. @error kDatabase, or the first error `fn` returns.
  using EntryFn = std::function<Result<void>(const ExtractedEntry&)>;
  [[nodiscard]] virtual Result<void> for_each(const EntryFn& fn) const = 0;
  // The whole listing as a vector (tests, small extracts): memory grows with it.
  [[nodiscard]] Result<std::vector<ExtractedEntry>> records() const;
};

struct ExtractReport {
  std::string archive;
  std::filesystem::path out;
  std::shared_ptr<const ExtractListing> listing;  // matched entries, in archive order
  // Files not placed and why (CHECKSUM_MISMATCH, CRC_ERROR, CORRUPT_DATA, TRUNCATED,
  // UNSAFE_PATH, UNSAFE_LINK), and notes (NOT_EXTRACTED for links).
  std::vector<core::Finding> findings;
  std::uint64_t files = 0;  // files placed (or listed)
  std::uint64_t bytes = 0;
  double seconds = 0;

  // True when a matched file was damaged or did not match its checksum.
  [[nodiscard]] bool failed() const;
};

// @return the report; files that failed a check are in findings and not placed.
// @error kInvalidArgument (a pattern matches no entry: nothing is placed; no target folder),
// kConflict (a file to extract exists and Overwrite::kNever; nothing is placed), kUnsafePath
// (a folder on the way in the target is a symbolic link or a file), kNotFound / kNotAnArchive /
// kPasswordRequired / kBadPassword (the archive), kIo, kCancelled.
[[nodiscard]] Result<ExtractReport> extract(const std::filesystem::path& archive,
                                            const ExtractOptions& options);

}  // namespace restorekit::restore

#pragma GCC visibility pop
