// verify: is this backup intact and restorable, and if not, exactly what is wrong?
//
// One streaming pass reads every byte of the archive and feeds, per entry, the hasher
// (XXH3-128, plus XXH32/XXH64/XXH3-64 where a checksum list asks for them), the structural
// checks, and the database stager (database entries are written to a private temporary file
// in the same pass and checked with integrity_check and foreign_key_check, opened as
// untrusted). Nothing is decompressed twice. Zip archives, whose entries are independent, are
// verified on several threads, each with its own reader; tar streams use one reader while a
// second thread decompresses ahead, so hashing hides behind decompression.
//
// Problems found are findings (VerifyReport::findings) and the pass goes on to the end; an
// Error means the archive could not be verified at all (missing, not an archive, encryption
// restorekit cannot read, cancelled). Memory: bounded buffers per reader; every entry goes to
// an on-disk EntryStore, and only entries a finding needs stay in memory. Thread safety:
// independent calls may run in parallel.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/entry_store.hpp>
#include <restorekit/core/entry_visitors.hpp>
#include <restorekit/core/error.hpp>
#include <restorekit/core/finding.hpp>
#include <restorekit/core/fs.hpp>
#include <restorekit/core/profile.hpp>
#include <restorekit/core/progress.hpp>
#include <restorekit/core/summary.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::verify {

struct VerifyOptions {
  core::ReaderOptions reader;            // limits and passwords
  std::optional<core::Profile> profile;  // document reference columns, documents root, tenants
  // An xxhsum file to check the entries of a (foreign) backup against (core/checksum_list.hpp).
  std::optional<std::filesystem::path> checksums_file;
  unsigned threads = 0;  // zip: readers in parallel; 0 = one per core
  // A backup without a readable database is damaged (NO_DATABASE is an error, not a warning).
  // Also implied by a profile's database.entry and by a restorekit header that lists one.
  bool require_database = false;
  // Where databases are staged, in a private folder that the report owns (VerifyReport::staging);
  // default: the system temp folder. A restore stages beside live, so that a rename installs.
  std::filesystem::path temp_dir;
  // More visitors for the same pass (restore's document stager): called once per reader (zip:
  // one per thread) with that reader's database stager; the visitor is attached after verify's
  // own and hears of every entry (it receives the data of the entries its reader reads).
  using VisitorFactory =
      std::function<std::unique_ptr<core::EntryVisitor>(const core::DatabaseStager& databases)>;
  VisitorFactory visitors;
  ProgressFn progress;  // raw archive bytes read / archive size
  CancelToken cancel;
};

struct DatabaseResult {
  std::string entry;
  core::DatabaseFormat kind = core::DatabaseFormat::kSqlite;
  std::uint64_t bytes = 0;
  std::uint64_t tables = 0;
  bool integrity_ok = false;
  std::uint64_t foreign_key_violations = 0;
  std::int64_t user_version = 0;
  std::optional<std::filesystem::path> staged;  // the staged copy, in VerifyReport::staging
  double seconds = 0;                           // its checks (integrity, foreign keys, schema)
};

// Where a verify run spent its time, per kind of check (JUnit gives each case its time).
struct VerifyTimings {
  double pass = 0;      // reading and decompressing every byte, hashing (archive integrity)
  double entries = 0;   // names, duplicates, sizes (archive structure)
  double contents = 0;  // header, checksum lists, databases, references
};

struct VerifyReport {
  std::string path;
  core::BackupKind kind = core::BackupKind::kForeign;
  core::ArchiveInfo archive;
  std::vector<core::Finding> findings;  // errors first, then warnings, then info
  std::vector<DatabaseResult> databases;
  // Every entry in archive order: path, type, size read, mtime and, for files read cleanly,
  // XXH3-128 (what diff and the catalog reuse instead of reading the archive again). Kept on
  // disk (core::EntryStore), so that memory does not grow with the entry count; shared by
  // copies of the report.
  std::shared_ptr<const core::EntryStore> listing;
  std::uint64_t entries = 0;
  std::uint64_t bytes = 0;              // uncompressed bytes read
  std::uint64_t archive_bytes = 0;      // size of the archive file
  std::uint64_t checksums_checked = 0;  // entries compared with a checksum list
  bool complete = true;                 // every entry was read (false: the pass stopped at damage)
  unsigned threads = 1;
  double seconds = 0;
  VerifyTimings timings;
  // What inspect would say of the archive (no fingerprint: the caller's, for a file), made in
  // the same pass; the catalog records it. A locked backup's holds only its listing's figures.
  core::ArchiveSummary summary;
  // The private folder holding the staged databases; removed with the last copy of the report.
  std::shared_ptr<const core::TempDir> staging;

  // True when no finding is an error (warnings and info keep a backup intact).
  [[nodiscard]] bool intact() const;
  // kLocked when encrypted entries could not be read (PASSWORD_REQUIRED, BAD_PASSWORD: then
  // those are the only findings about unread data), else kIntact or kDamaged.
  [[nodiscard]] core::Verdict verdict() const;
  // Findings of `severity`, each counted for the entries it stands for (Finding::count).
  [[nodiscard]] std::size_t count(core::Severity severity) const;
};

// Reads every byte of `archive` (a path, memory, or any ByteSource opener) and reports what is
// wrong with it. A read error or a short read of the source is damage (a finding), not an
// error, unless nothing could be read at all.
// @error kNotFound, kInvalidArgument (not a regular file; unreadable checksum list),
//   kNotAnArchive, kEncryptionUnsupported, kIo, kCancelled, kDatabase (the entry store).
//   Damage is never an error: it is reported as findings. Input: untrusted archive (and
//   checksum list).
[[nodiscard]] Result<VerifyReport> verify(const core::ArchiveSource& archive,
                                          const VerifyOptions& options);

}  // namespace restorekit::verify

#pragma GCC visibility pop
