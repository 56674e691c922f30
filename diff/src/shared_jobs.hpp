// A table's merge narrowed to the rows its two files do not share (private to diff): which
// tables qualify, the walk of their trees, and the merge jobs for the key ranges left.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include <restorekit/core/sqlite.hpp>

#include "shared_rows.hpp"
#include "table_diff.hpp"

namespace restorekit::diff::detail {

// How a table's B-tree relates to its merge; `key` empty where its pages are not compared.
struct TreePlan {
  std::vector<std::string> key;  // the columns that order the table's B-tree
  bool at_once = false;          // the merge's order is another: one sorted scan reads all ranges
  bool without_rowid = false;
};

// Both sides must define the table alike, and its merge must be in its tree's order (a rowid,
// a rowid alias, or a WITHOUT ROWID table's ascending BINARY primary key) or be a rowid table
// (then `at_once`). `range_column`: the rowid or its alias where the merge is in rowid order.
TreePlan plan_tree(const TableJob& job, const core::TableInfo* live, const core::TableInfo* backup,
                   const std::optional<std::string>& range_column, core::Database& live_db);

// The table's root page in `db`; nullopt where it has none.
std::optional<std::uint32_t> root_page(core::Database& db, const std::string& table);

// Walks the table's two trees. Both connections must hold a read transaction (the pages read
// are then those their queries see); nullopt where the pages cannot be compared.
std::optional<SharedRows> walk_trees(const std::string& table, const TreePlan& tree,
                                     core::Database& live, core::Database& backup,
                                     const PagePair& files);

// The job for the key ranges between `runs` (`first`/`last`: whether the ranges before the first
// run and after the last are this job's). None between two runs of consecutive rowids; a scan
// of all ranges at once takes at most 100 of them (the smallest runs are read with the rows
// around them).
TableJob ranged_job(const TableJob& job, const TreePlan& tree, std::span<const SharedRun> runs,
                    bool first, bool last);

// The rows the merge of what the trees do not share reads, a range's scan counted as
// kRangeCostRows.
std::int64_t merge_work(const SharedRows& shared);

}  // namespace restorekit::diff::detail
