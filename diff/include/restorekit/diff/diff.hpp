// diff: what a restore would do to the live database, from the live system's point of view.
//
// For every table: rows only in live are *lost* by a restore (created since the backup), rows
// only in the backup are *revived* (deleted since), rows in both whose values differ are
// *reverted* (changed since). Rows are identified by the declared primary key (composite keys
// and WITHOUT ROWID tables included); tables without one by rowid, as sqldiff does, or with
// NoKeyTables::kByContent as multisets of rows. Values compare as SQL `IS NOT` does (integer 1
// equals real 1.0; NULL equals NULL; text never equals a blob).
//
// How: for each table, two ordered scans (one per database, both read-only, the backup opened
// as untrusted) are merged, comparing keys exactly and rows by an XXH3 digest of a canonical,
// type-tagged encoding of their values. Memory stays flat in the number of rows.
// Thread safety: independent calls may run in parallel.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <restorekit/core/error.hpp>
#include <restorekit/core/progress.hpp>
#include <restorekit/core/sqlite.hpp>

namespace restorekit::diff {

enum class NoKeyTables { kByRowid, kByContent };

struct DiffOptions {
  std::optional<core::TenantSpec> tenants;  // per-tenant breakdown when set
  std::vector<std::string> tables;          // only these tables; empty = all
  NoKeyTables no_key = NoKeyTables::kByRowid;
  std::size_t sample_rows = 0;  // up to N sample keys per category per table
  ProgressFn progress;          // rows compared
  CancelToken cancel;
};

struct ValueChange {
  std::string column;
  std::string live;    // SQL literal of the live value (what a restore loses)
  std::string backup;  // SQL literal of the backup's value (what a restore brings back)
};

struct RowSample {
  std::string key;                   // e.g. "id=42" or "company_id=1, key='theme'"
  std::vector<ValueChange> changes;  // reverted rows only
};

struct TableDiff {
  std::string name;
  std::string key;  // how rows were matched: "primary key (id)", "rowid", "content"
  std::uint64_t lost = 0;
  std::uint64_t revived = 0;
  std::uint64_t reverted = 0;
  std::uint64_t unchanged = 0;
  bool only_in_live = false;
  bool only_in_backup = false;
  std::vector<std::string>
      schema_changes;  // sentences, e.g. "column mobile added since the backup"
  std::vector<RowSample> lost_samples;
  std::vector<RowSample> revived_samples;
  std::vector<RowSample> reverted_samples;

  [[nodiscard]] bool changed() const {
    return lost || revived || reverted || only_in_live || only_in_backup || !schema_changes.empty();
  }
};

struct TenantDiff {
  std::string id;
  std::string label;
  std::uint64_t lost = 0;
  std::uint64_t revived = 0;
  std::uint64_t reverted = 0;
};

struct DatabaseDiff {
  std::vector<TableDiff> tables;  // sorted by name
  std::vector<TenantDiff> tenants;
  std::vector<std::string> schema_changes;  // database-wide: user_version, views, triggers, indexes
  std::uint64_t lost = 0;
  std::uint64_t revived = 0;
  std::uint64_t reverted = 0;

  [[nodiscard]] bool changed() const;
};

// Compares a backup's database (a file restorekit staged or the user gave; opened as untrusted)
// with the live database (opened read-only).
// @error kNotFound, kDatabase (unreadable database), kInvalidArgument (a --tables name that
//   exists in neither), kCancelled.
[[nodiscard]] Result<DatabaseDiff> diff_databases(const std::filesystem::path& backup,
                                                  const std::filesystem::path& live,
                                                  const DiffOptions& options);

}  // namespace restorekit::diff
