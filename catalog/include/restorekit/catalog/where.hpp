// catalog where: which backups in the catalog hold a row, and how it changed between them —
// "when did this customer's data disappear, and which backup still has it".
//
// Each backup's database is the copy the index kept for the unchanged archive, or is staged by
// reading the archive only up to its database entry (the second entry of our backups) and then
// kept; the row is looked up by key, or the rows a condition chooses, and compared with the
// next newer backup column by column.
//
// Input: untrusted archives and databases (opened defensively; a condition is one statement,
// run on each backup's copy only). Thread safety: the Index from the calling thread only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <restorekit/catalog/catalog.hpp>
#include <restorekit/core/archive_reader.hpp>
#include <restorekit/core/progress.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::catalog {

// One row by its key (the rowid for a table without one), or the rows a condition chooses.
struct RowQuery {
  std::string table;
  std::vector<std::string> key;    // the key's values in key order
  std::optional<std::string> sql;  // instead of `key`: an SQL condition over the columns
};

struct RowVersion {
  Row backup;  // path, created, status
  // Unset: the database could not be read (`error` says why); the comparison skips it.
  bool read = false;
  std::string error;
  std::vector<std::string> keys;  // the matching rows' keys, comma-separated values, sorted
  // The first matching row's columns and values as text ("NULL", a blob as "<blob N bytes>").
  std::vector<std::pair<std::string, std::string>> values;
  // Against the next newer backup that was read: columns whose values differ in rows both hold,
  // and rows only this one holds (the newer one lost them) or only the newer one holds.
  std::optional<std::string> compared_with;  // that backup's path
  std::vector<std::string> changed;
  std::uint64_t only_here = 0;
  std::uint64_t only_newer = 0;
  double seconds = 0;
  bool from_index = false;  // the index's kept copy: the archive was not read
};

struct WhereOptions {
  core::ReaderOptions reader;                 // passwords and limits
  std::optional<std::string> database_entry;  // glob (a profile's); default as diff chooses
  std::size_t limit = 0;                      // newest N backups; 0: all
  Root root;                                  // where the catalog's names are on this machine
  std::filesystem::path temp_dir;
  ProgressFn progress;  // backups done / to do
  CancelToken cancel;
};

// Every backup (newest first, up to `limit`) with what it holds of the row. A backup whose
// database cannot be read, lacks the table, or where the key or condition does not fit its
// schema says so in its `error`. @error kDatabase (the catalog), kCancelled.
[[nodiscard]] Result<std::vector<RowVersion>> where(Index& index, const RowQuery& query,
                                                    const WhereOptions& options);

}  // namespace restorekit::catalog

#pragma GCC visibility pop
