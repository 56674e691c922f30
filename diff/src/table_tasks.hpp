// The tables of a diff as tasks for two workers (private to diff): each table planned once, the
// first tasks largest first (a big table in rowid order halved; a table whose trees are compared
// walked whole), and the workers that run them, each on connections of its own.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <restorekit/diff/diff.hpp>

#include "shared_jobs.hpp"
#include "table_diff.hpp"

namespace restorekit::diff::detail {

// A table's comparison, planned once; big tables are cut into key ranges (tasks).
struct TablePlan {
  TableJob job;
  TableDiff pre;  // schema changes found while planning
  const core::TableInfo* live = nullptr;
  const core::TableInfo* backup = nullptr;
  std::int64_t size = 0;  // rows in live, about: max(rowid), or an estimate from its tree
  TreePlan tree;          // tree.key set: the pages of its trees are compared first
};

// A worker's task: a job to merge, or (`walk`) a table whose trees are compared page by page
// first, then merged where they differ.
struct TableTask {
  TableJob job;
  const TablePlan* walk = nullptr;
  std::int64_t work = 0;  // rows to read, about: the biggest go first
};

// Sizes the plans from live (max(rowid)) and decides which tables' trees are compared page by
// page (their definitions alike on both sides, their merge in their tree's order or a rowid
// table's), sizing those from their trees; the files opened for it, or null where none is or
// their pages cannot be compared.
std::shared_ptr<const PagePair> plan_sizes_and_trees(std::vector<TablePlan>& plans,
                                                     core::Database& live, core::Database& backup,
                                                     bool every_row);

// The first tasks, largest first: a table whose trees are compared is walked whole; another big
// table in rowid order becomes two halves.
std::deque<TableTask> first_tasks(const std::vector<TablePlan>& plans, const PagePair* files);

// Runs `tasks` on up to two workers, the first on the caller's connections, the second on its
// own (a connection belongs to one thread); a worker walking a table's trees may add the second
// half of its ranges to `tasks`. One result per task, in the order of `tasks` as it ends; the
// tenant tallies, one per worker.
struct TaskResults {
  std::deque<std::optional<Result<TableDiff>>> results;
  std::vector<TenantTally> tallies;
};
TaskResults run_tasks(std::deque<TableTask>& tasks, const Sessions& sessions, const PagePair* files,
                      const CancelToken& cancel,
                      const std::function<void(std::uint64_t)>& progress);

}  // namespace restorekit::diff::detail
