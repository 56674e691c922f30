// A record restore's rows as the dry run lists them, and the document names the rows it brings
// back hold, in a SQLite file of a private temporary folder that the plan holds: a restore of a
// million rows costs a page cache, not memory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include <restorekit/core/error.hpp>
#include <restorekit/core/sqlite.hpp>
#include <restorekit/restore/restore.hpp>

namespace restorekit::restore::detail {

class RecordListWriter {
 public:
  [[nodiscard]] static Result<RecordListWriter> create();

  // Rows are listed in the order added (run_records: table by table, each by key).
  [[nodiscard]] Result<void> add(std::string_view table, std::string_view key,
                                 RecordChange::Action action);
  // A value of a reference column in a row the restore brings back (duplicates allowed).
  [[nodiscard]] Result<void> add_name(std::string_view name);
  [[nodiscard]] Result<RecordList> save() &&;

 private:
  RecordListWriter(core::Database db, std::shared_ptr<const core::TempDir> dir);
  std::unique_ptr<core::Database> db_;  // statements hold its address
  std::shared_ptr<const core::TempDir> dir_;
  std::optional<core::Statement> add_, name_;
  std::uint64_t count_ = 0, conflicts_ = 0;
};

// `limit` as an SQL LIMIT (a count past SQLite's integers is no limit).
[[nodiscard]] std::int64_t sql_limit(std::uint64_t limit);

// Calls `fn` with each name add_name() listed.
[[nodiscard]] Result<void> for_each_record_name(
    const RecordList& list, const std::function<Result<void>(std::string_view)>& fn);

}  // namespace restorekit::restore::detail
