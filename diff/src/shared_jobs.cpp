#include "shared_jobs.hpp"

#include <algorithm>

namespace restorekit::diff::detail {

namespace {

constexpr std::size_t kMaxRangesAtOnce = 100;  // terms of one scan's WHERE

// Whether a WITHOUT ROWID table's primary key orders its B-tree as the merge reads it:
// ascending, BINARY (the ranges' bounds compare in the B-tree's collation).
bool ascending_binary_key(core::Database& db, const std::string& table) {
  auto odd = db.prepare(
      "SELECT count(*) FROM pragma_index_list(?1) AS l, pragma_index_xinfo(l.name) AS x "
      "WHERE l.origin = 'pk' AND x.key AND (x.desc OR x.coll <> 'BINARY')");
  if (!odd) return false;
  odd->bind(1, std::string_view(table));
  auto row = odd->step();
  return row && *row && odd->column_int(0) == 0;
}

}  // namespace

TreePlan plan_tree(const TableJob& job, const core::TableInfo* live, const core::TableInfo* backup,
                   const std::optional<std::string>& range_column, core::Database& live_db) {
  TreePlan t;
  if (!live || !backup || live->sql != backup->sql || live->kind != "table") return t;
  t.without_rowid = live->without_rowid;
  if (!live->without_rowid) {
    // "rowid" must name the rowid, not a column of that name.
    if ((!range_column || *range_column == "rowid") && core::has_column(*live, "rowid")) return t;
    t.at_once = !range_column;
    t.key = {range_column.value_or("rowid")};
  } else if (!job.by_content && job.key == live->primary_key &&
             ascending_binary_key(live_db, job.name)) {
    t.key = job.key;
  }
  return t;
}

std::optional<std::uint32_t> root_page(core::Database& db, const std::string& table) {
  auto q = db.prepare("SELECT rootpage FROM sqlite_schema WHERE type = 'table' AND name = ?1");
  if (!q) return std::nullopt;
  q->bind(1, std::string_view(table));
  auto row = q->step();
  if (!row || !*row || q->column_int(0) <= 0 || q->column_int(0) > UINT32_MAX) return std::nullopt;
  return static_cast<std::uint32_t>(q->column_int(0));
}

std::optional<SharedRows> walk_trees(const std::string& table, const TreePlan& tree,
                                     core::Database& live, core::Database& backup,
                                     const PagePair& files) {
  if (live_journal_holds_data(live.path())) return std::nullopt;
  auto live_root = root_page(live, table);
  auto backup_root = root_page(backup, table);
  if (!live_root || !backup_root) return std::nullopt;
  std::size_t key_columns = tree.without_rowid ? tree.key.size() : 0;
  return find_shared_runs(files, TreePair{*live_root, *backup_root, key_columns});
}

TableJob ranged_job(const TableJob& base, const TreePlan& tree, std::span<const SharedRun> runs,
                    bool first, bool last) {
  std::vector<SharedRun> kept;
  if (tree.at_once && runs.size() >= kMaxRangesAtOnce) {
    std::vector<std::size_t> order(runs.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    auto keep = static_cast<std::ptrdiff_t>(kMaxRangesAtOnce - 1);
    std::partial_sort(order.begin(), order.begin() + keep, order.end(),
                      [&](std::size_t a, std::size_t b) { return runs[a].rows > runs[b].rows; });
    order.resize(kMaxRangesAtOnce - 1);
    std::sort(order.begin(), order.end());
    for (std::size_t i : order) kept.push_back(runs[i]);
    runs = kept;
  }
  TableJob job = base;
  job.range_key = tree.key;
  job.ranges_at_once = tree.at_once;
  job.ranges.emplace();
  for (std::size_t i = 0; i <= runs.size(); ++i) {
    if ((i == 0 && !first) || (i == runs.size() && !last)) continue;  // the other half's
    KeyRange r;
    if (i > 0) r.after = runs[i - 1].last;
    if (i < runs.size()) r.before = runs[i].first;
    bool rowids = !tree.without_rowid;
    if (rowids && r.after && r.before && (*r.after)[0].integer + 1 == (*r.before)[0].integer)
      continue;
    job.ranges->push_back(std::move(r));
  }
  for (const auto& run : runs) job.shared_rows += run.rows;
  return job;
}

std::int64_t merge_work(const SharedRows& shared) {
  std::uint64_t same = 0;
  for (const auto& run : shared.runs) same += run.rows;
  std::uint64_t rows = shared.live_rows + shared.backup_rows;
  rows = rows > 2 * same ? (rows - 2 * same) / 2 : 0;
  return static_cast<std::int64_t>(rows + kRangeCostRows * shared.runs.size());
}

}  // namespace restorekit::diff::detail
