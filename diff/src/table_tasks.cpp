#include "table_tasks.hpp"

#include <algorithm>
#include <climits>
#include <mutex>
#include <span>
#include <thread>
#include <utility>

namespace restorekit::diff::detail {

namespace {

constexpr std::size_t kWorkers = 2;
constexpr std::int64_t kSplitRows = 200'000;  // tables bigger than this are halved

// The column a table's rows can be sliced by: rowid, or an INTEGER PRIMARY KEY (its alias) on
// both sides — never NULL, so that "< mid" and ">= mid" cover every row.
std::optional<std::string> range_column(const TablePlan& p) {
  const auto& job = p.job;
  if (job.by_content) return std::nullopt;
  auto rowid_table = [](const core::TableInfo* t) { return !t || !t->without_rowid; };
  if (!rowid_table(p.live) || !rowid_table(p.backup)) return std::nullopt;
  if (job.key.empty()) return std::string("rowid");
  if (job.key.size() != 1) return std::nullopt;
  for (const core::TableInfo* t : {p.live, p.backup}) {
    if (t && !core::is_rowid_alias(*t, job.key[0])) return std::nullopt;
  }
  return job.key[0];
}

// Runs a task on a worker's connections. A walk and the merge after it share one read
// transaction on each side (a statement stepped and not reset keeps it open): the rows left
// out are those of the pages the merge's queries see.
Result<TableDiff> run_task(const TableTask& task, core::Database& live, core::Database& backup,
                           const PagePair* files, TenantTally& tally, const CancelToken& cancel,
                           const std::function<void(std::uint64_t)>& progress,
                           const std::function<void(TableTask)>& add) {
  TableJob job = task.job;
  std::vector<core::Statement> holds;
  if (task.walk && files) {
    for (core::Database* db : {&live, &backup}) {
      RK_TRY_ASSIGN(auto hold, db->prepare("SELECT 1 FROM sqlite_schema"));
      RK_TRY(hold.step());
      holds.push_back(std::move(hold));
    }
    const TablePlan& p = *task.walk;
    auto shared = walk_trees(p.job.name, p.tree, live, backup, *files);
    if (shared && !shared->runs.empty()) {
      std::span<const SharedRun> runs(shared->runs);
      std::int64_t work = merge_work(*shared);
      if (work < kSplitRows || runs.size() < 2 || p.tree.at_once) {
        job = ranged_job(p.job, p.tree, runs, true, true);
      } else {
        // Halves: the ranges before and after the middle run (which the first half counts).
        std::size_t mid = runs.size() / 2;
        job = ranged_job(p.job, p.tree, runs.first(mid + 1), true, false);
        auto high = ranged_job(p.job, p.tree, runs.subspan(mid), false, true);
        high.shared_rows -= runs[mid].rows;
        add(TableTask{std::move(high), nullptr, work / 2});
      }
    }
  }
  if (job.live.table) job.live.db = &live;
  if (job.backup.table) job.backup.db = &backup;
  return diff_table(job, tally, cancel, progress);
}

}  // namespace

std::shared_ptr<const PagePair> plan_sizes_and_trees(std::vector<TablePlan>& plans,
                                                     core::Database& live, core::Database& backup,
                                                     bool every_row) {
  for (auto& p : plans) {
    if (!p.live || p.live->without_rowid) continue;
    p.size =
        live.query_int("SELECT max(rowid) FROM " + core::quote_identifier(p.job.name)).value_or(0);
  }
  if (every_row) return nullptr;
  bool any = false;
  for (auto& p : plans) {
    p.tree = plan_tree(p.job, p.live, p.backup, range_column(p), live);
    any = any || !p.tree.key.empty();
  }
  if (!any) return nullptr;
  auto files = open_page_pair(live.path(), backup.path());
  if (!files) return nullptr;
  for (auto& p : plans) {
    if (p.tree.key.empty()) continue;
    auto root = root_page(live, p.job.name);
    std::uint64_t rows = root ? estimate_rows(**files, *root) : 0;
    p.size = static_cast<std::int64_t>(std::min<std::uint64_t>(rows, INT64_MAX));
  }
  return *files;
}

std::deque<TableTask> first_tasks(const std::vector<TablePlan>& plans, const PagePair* files) {
  std::deque<TableTask> tasks;
  for (const auto& p : plans) {
    auto column = range_column(p);
    if (files && !p.tree.key.empty()) {
      tasks.push_back(TableTask{p.job, &p, p.size});
    } else if (!column || p.size < kSplitRows) {
      tasks.push_back(TableTask{p.job, nullptr, p.size});
    } else {
      std::int64_t mid = p.size / 2;
      auto low = p.job;
      low.range_column = *column;
      low.to = mid;
      auto high = low;
      high.to.reset();
      high.from = mid;
      tasks.push_back(TableTask{std::move(low), nullptr, mid});
      tasks.push_back(TableTask{std::move(high), nullptr, mid});
    }
  }
  std::stable_sort(tasks.begin(), tasks.end(),
                   [](const TableTask& a, const TableTask& b) { return a.work > b.work; });
  return tasks;
}

TaskResults run_tasks(std::deque<TableTask>& tasks, const Sessions& sessions, const PagePair* files,
                      const CancelToken& cancel,
                      const std::function<void(std::uint64_t)>& progress) {
  TaskResults out;
  out.results.resize(tasks.size());
  out.tallies.resize(std::min<std::size_t>(kWorkers, tasks.size()));
  std::mutex mutex;
  std::size_t next = 0;
  auto take = [&]() -> std::optional<std::pair<std::size_t, TableTask>> {
    std::lock_guard lock(mutex);
    if (next == tasks.size()) return std::nullopt;
    std::size_t i = next++;
    return std::pair{i, tasks[i]};  // a copy: tasks grows meanwhile
  };
  auto add = [&](TableTask task) {
    std::lock_guard lock(mutex);
    tasks.push_back(std::move(task));
    out.results.emplace_back();
  };
  auto work = [&](std::size_t w) {
    Result<core::Database> own_backup = fail(ErrorCode::kInternal, "not opened");
    Result<core::Database> own_live = fail(ErrorCode::kInternal, "not opened");
    if (w > 0) {
      own_backup = core::Database::open_untrusted(sessions.backup.path());
      own_live = core::Database::open(sessions.live.path(), core::OpenMode::kReadOnly);
      if (own_backup) own_backup->stop_when(cancel);
      if (own_live) own_live->stop_when(cancel);
    }
    while (auto task = take()) {
      Result<TableDiff> r = fail(ErrorCode::kInternal, "not run");
      if (w > 0 && (!own_backup || !own_live)) {
        r = tl::unexpected(!own_backup ? own_backup.error() : own_live.error());
      } else {
        r = run_task(task->second, w > 0 ? *own_live : sessions.live,
                     w > 0 ? *own_backup : sessions.backup, files, out.tallies[w], cancel, progress,
                     add);
      }
      std::lock_guard lock(mutex);
      out.results[task->first] = std::move(r);
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t w = 1; w < out.tallies.size(); ++w) threads.emplace_back(work, w);
  if (!out.tallies.empty()) work(0);
  for (auto& t : threads) t.join();
  return out;
}

}  // namespace restorekit::diff::detail
