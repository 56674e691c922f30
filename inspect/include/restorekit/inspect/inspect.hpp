// inspect: what is in a backup, cheaply.
//
// For a restorekit backup only the first entry (restorekit/header.json) is read unless a full
// listing is asked for, so previewing costs the same for 1 MB and 100 GB. For a foreign
// backup (zip, password zip, 7z, tar.*) every entry is listed; databases are found by content
// (SQLite magic, SQL dumps), staged to a private temporary folder that is always removed, and
// described (tables, row counts, tenants); the rest is summarised as documents.
//
// Unsafe entries (traversal, absolute paths, links out, devices) become warning findings and
// are never extracted. With an index, the summary of an unchanged archive is answered from it
// and fresh results are stored in it. Thread safety: independent calls may run in parallel
// with separate Index objects.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include <restorekit/core/archive_index.hpp>
#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/entry_store.hpp>
#include <restorekit/core/error.hpp>
#include <restorekit/core/profile.hpp>
#include <restorekit/core/progress.hpp>
#include <restorekit/core/summary.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::inspect {

enum class ListEntries { kNo, kYes };

struct InspectOptions {
  core::ReaderOptions reader;            // limits and passwords
  std::optional<core::Profile> profile;  // tenant column, database glob, documents root
  ListEntries list_entries = ListEntries::kNo;
  core::ArchiveIndex* index = nullptr;  // optional: answer from / record into the index
  // The name the index files the archive under; default: its absolute path (index_key). A
  // catalog with a root names archives by their path below it.
  std::optional<std::string> index_name;
  std::filesystem::path temp_dir;  // where databases are staged; default: system temp
  ProgressFn progress;             // compressed bytes read / archive size
  CancelToken cancel;
};

struct InspectReport {
  core::ArchiveSummary summary;
  // Every entry in archive order, when ListEntries::kYes (on disk: walk it with for_each or
  // for_each_brief; records() makes a vector, whose memory grows with the entries).
  std::shared_ptr<const core::EntryStore> listing;
  bool from_index = false;
  // Set when the report is partial because content could not be read (PASSWORD_REQUIRED: the
  // names and sizes are listed but encrypted contents were not read). The caller decides how
  // to present it; the CLI prints the report and then exits 2.
  std::optional<Error> incomplete;
  double seconds = 0;
};

// Inspects `archive` (a path, memory, or any ByteSource opener; only a path source is answered
// from and recorded in the index, keyed by its fingerprint).
// @error kNotFound, kInvalidArgument (not a regular file), kNotAnArchive, kTruncated,
//   kCorruptData, kCrcError (a database entry is damaged), kBadPassword,
//   kEncryptionUnsupported, kRatioLimit, kLimitExceeded, kDatabase, kIo (a read of the source
//   failed), kCancelled. Input: untrusted archive.
[[nodiscard]] Result<InspectReport> inspect(const core::ArchiveSource& archive,
                                            const InspectOptions& options);

}  // namespace restorekit::inspect

#pragma GCC visibility pop
