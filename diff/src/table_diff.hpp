// The streaming merge of one table's two ordered scans (private to diff).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <restorekit/core/progress.hpp>
#include <restorekit/core/sqlite.hpp>
#include <restorekit/diff/diff.hpp>

#include "shared_rows.hpp"

namespace restorekit::diff::detail {

struct Side {
  core::Database* db = nullptr;  // null: the table does not exist on this side
  const core::TableInfo* table = nullptr;
};

// Keys strictly between `after` and `before`; an unset bound is open.
struct KeyRange {
  std::optional<Key> after;
  std::optional<Key> before;
};

struct TableJob {
  std::string name;
  Side live;
  Side backup;
  std::vector<std::string> key;             // matching columns; empty means rowid
  std::vector<std::string> key_collations;  // per key column (live's), e.g. "BINARY", "NOCASE"
  bool by_content = false;                  // key = every compared column, duplicates allowed
  std::vector<std::string> common;          // columns compared
  std::vector<std::string> live_only;       // a non-NULL value here makes a matched row reverted
  std::optional<std::string> tenant_column;
  std::size_t samples = 0;
  // A slice of the rows, for splitting a big table between workers: range_column (rowid or a
  // rowid alias, never NULL) >= from and < to; an unset bound is open.
  std::string range_column;
  std::optional<std::int64_t> from;
  std::optional<std::int64_t> to;
  // Set where rows both files hold byte for byte were found (shared_rows.hpp): only rows with
  // keys in these ranges are read and merged; the others, `shared_rows` of them, are the same.
  std::optional<std::vector<KeyRange>> ranges;
  std::vector<std::string> range_key;  // the columns the ranges bound (rowid, or the key)
  bool ranges_at_once = false;  // the merge's order is not the ranges': one scan reads them all
  std::uint64_t shared_rows = 0;
};

// Tallies per tenant id, shared by all tables of one diff.
using TenantTally = std::map<std::string, TenantDiff, std::less<>>;

// @error kDatabase (a scan failed), kCancelled.
[[nodiscard]] Result<TableDiff> diff_table(const TableJob& job, TenantTally& tenants,
                                           const CancelToken& cancel,
                                           const std::function<void(std::uint64_t)>& progress);

}  // namespace restorekit::diff::detail
