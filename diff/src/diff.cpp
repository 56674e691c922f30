#include <restorekit/diff/diff.hpp>

#include <restorekit/core/restore_state.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <thread>

#include <fmt/format.h>

#include <restorekit/core/safe_path.hpp>

#include "shared_jobs.hpp"
#include "table_diff.hpp"

namespace restorekit::diff {

namespace {

using core::DatabaseSummary;
using core::TableInfo;

using core::find_table;

const core::ColumnInfo* find_column(const TableInfo& t, const std::string& name) {
  for (const auto& c : t.columns) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

bool has_all(const TableInfo& t, const std::vector<std::string>& cols) {
  return std::all_of(cols.begin(), cols.end(),
                     [&](const std::string& c) { return find_column(t, c) != nullptr; });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// How rows of a table present on both sides are matched.
void choose_key(const TableInfo& live, const TableInfo& backup, NoKeyTables no_key,
                detail::TableJob& job) {
  if (!live.primary_key.empty() && has_all(backup, live.primary_key)) {
    job.key = live.primary_key;
    for (const auto& k : job.key) {
      auto coll = find_column(live, k)->collation;
      // Only the built-in collations can be reproduced by the merge.
      job.key_collations.push_back(coll == "NOCASE" || coll == "RTRIM" ? coll : "BINARY");
    }
  } else if (!live.primary_key.empty() || !backup.primary_key.empty()) {
    job.key.clear();  // the key changed: fall back to rowid where both sides have one
    job.by_content = live.without_rowid || backup.without_rowid;
  } else {
    job.by_content = no_key == NoKeyTables::kByContent;
  }
}

void compare_columns(const TableInfo& live, const TableInfo& backup, detail::TableJob& job,
                     TableDiff& out) {
  for (const auto& c : live.columns) {
    const auto* other = find_column(backup, c.name);
    if (!other) {
      job.live_only.push_back(c.name);
      out.schema_changes.push_back(fmt::format(
          "column {} added since the backup (a restore drops it and its values)", c.name));
      continue;
    }
    job.common.push_back(c.name);
    if (lower(other->type) != lower(c.type)) {
      out.schema_changes.push_back(fmt::format("column {} is declared {} in live, {} in the backup",
                                               c.name, c.type, other->type));
    }
  }
  for (const auto& c : backup.columns) {
    if (!find_column(live, c.name)) {
      out.schema_changes.push_back(
          fmt::format("column {} removed since the backup (a restore "
                      "brings it back)",
                      c.name));
    }
  }
  if (live.primary_key != backup.primary_key) {
    out.schema_changes.push_back(fmt::format("primary key is ({}) in live, ({}) in the backup",
                                             fmt::join(live.primary_key, ", "),
                                             fmt::join(backup.primary_key, ", ")));
  }
  if (!job.live_only.empty() || job.common.size() != backup.columns.size()) {
    out.schema_changes.push_back(
        fmt::format("rows compared over the {} columns both sides have", job.common.size()));
  }
}

// Indexes and triggers of a table, or (table empty) views: added, removed or changed since.
void compare_objects(const DatabaseSummary& live, const DatabaseSummary& backup,
                     const std::string& table, std::vector<std::string>& out) {
  auto collect = [&](const DatabaseSummary& s) {
    std::map<std::string, const core::SchemaObject*> objects;
    for (const auto& o : s.objects) {
      bool belongs = table.empty() ? o.type == "view" : (o.type != "view" && o.table == table);
      if (belongs) objects[o.type + " " + o.name] = &o;
    }
    return objects;
  };
  auto in_live = collect(live);
  auto in_backup = collect(backup);
  for (const auto& [name, o] : in_live) {
    auto it = in_backup.find(name);
    if (it == in_backup.end()) {
      out.push_back(fmt::format("{} added since the backup", name));
    } else if (it->second->sql != o->sql) {
      out.push_back(fmt::format("{} changed since the backup", name));
    }
  }
  for (const auto& [name, o] : in_backup) {
    if (!in_live.count(name)) {
      out.push_back(fmt::format("{} removed since the backup (a restore brings it back)", name));
    }
  }
}

class Differ {
 public:
  Differ(const DiffOptions& o) : o_(o), throttle_(o.progress) {}

  Result<DatabaseDiff> run(const Sessions& s) {
    core::Database& backup = s.backup;
    core::Database& live = s.live;
    DatabaseSummary described_backup, described_live;
    if (!s.backup_schema) {
      RK_TRY_ASSIGN(described_backup, core::describe_database(backup, core::CountRows::kNo));
    }
    if (!s.live_schema) {
      RK_TRY_ASSIGN(described_live, core::describe_database(live, core::CountRows::kNo));
    }
    const auto& backup_schema = s.backup_schema ? *s.backup_schema : described_backup;
    const auto& live_schema = s.live_schema ? *s.live_schema : described_live;
    RK_TRY_ASSIGN(auto names, table_names(live_schema, backup_schema));
    RK_TRY(all_tables(names, s, live_schema, backup_schema));
    for (const auto& t : out_.tables) {
      out_.lost += t.lost;
      out_.revived += t.revived;
      out_.reverted += t.reverted;
    }
    database_wide(live_schema, backup_schema);
    label_tenants(live, backup);
    return std::move(out_);
  }

  // A table's comparison, planned once; big tables are cut into key ranges (work items).
  struct Plan {
    detail::TableJob job;
    TableDiff pre;  // schema changes found while planning
    const TableInfo* live = nullptr;
    const TableInfo* backup = nullptr;
    std::int64_t size = 0;  // max(rowid) in live: a cheap size estimate
    detail::TreePlan tree;  // tree.key set: the pages of its trees are compared first
  };

  // A worker's task: a job to merge, or (`walk`) a table whose trees are compared page by page
  // first, then merged where they differ.
  struct Item {
    detail::TableJob job;
    const Plan* walk = nullptr;
    std::int64_t work = 0;  // rows to read, about: the biggest go first
  };

  // Tables (and ranges of big ones) are independent: two workers take them largest first, so
  // that both cores stay busy; the first works on the caller's connections, the second opens
  // its own (a connection belongs to one thread). A worker walking a table's trees may add the
  // second half of its ranges for the other.
  Result<void> all_tables(const std::vector<std::string>& names, const Sessions& s,
                          const DatabaseSummary& live_schema,
                          const DatabaseSummary& backup_schema) {
    std::vector<Plan> plans;
    for (const auto& n : names) plans.push_back(plan(n, live_schema, backup_schema));
    estimate_sizes(plans, s.live);
    std::shared_ptr<const detail::PagePair> files;
    if (!o_.every_row) files = plan_trees(plans, s.live, s.backup);
    std::deque<Item> items = split(plans, files.get());
    std::deque<std::optional<Result<TableDiff>>> results(items.size());
    std::vector<detail::TenantTally> tallies(std::min<std::size_t>(kWorkers, items.size()));
    std::mutex mutex;
    std::size_t next = 0;
    auto take = [&]() -> std::optional<std::pair<std::size_t, Item>> {
      std::lock_guard lock(mutex);
      if (next == items.size()) return std::nullopt;
      std::size_t i = next++;
      return std::pair{i, items[i]};  // a copy: items grows meanwhile
    };
    auto add = [&](Item item) {
      std::lock_guard lock(mutex);
      items.push_back(std::move(item));
      results.emplace_back();
    };
    auto work = [&](std::size_t w) {
      Result<core::Database> own_backup = fail(ErrorCode::kInternal, "not opened");
      Result<core::Database> own_live = fail(ErrorCode::kInternal, "not opened");
      if (w > 0) {
        own_backup = core::Database::open_untrusted(s.backup.path());
        own_live = core::Database::open(s.live.path(), core::OpenMode::kReadOnly);
        if (own_backup) own_backup->stop_when(o_.cancel);
        if (own_live) own_live->stop_when(o_.cancel);
      }
      while (auto task = take()) {
        Result<TableDiff> r = fail(ErrorCode::kInternal, "not run");
        if (w > 0 && (!own_backup || !own_live)) {
          r = tl::unexpected(!own_backup ? own_backup.error() : own_live.error());
        } else {
          r = run_task(task->second, w > 0 ? *own_live : s.live, w > 0 ? *own_backup : s.backup,
                       files.get(), tallies[w], add);
        }
        std::lock_guard lock(mutex);
        results[task->first] = std::move(r);
      }
    };
    std::vector<std::thread> threads;
    for (std::size_t w = 1; w < tallies.size(); ++w) threads.emplace_back(work, w);
    if (!tallies.empty()) work(0);
    for (auto& t : threads) t.join();
    RK_TRY(combine(plans, items, results, live_schema, backup_schema));
    merge_tallies(tallies);
    return {};
  }

  // Runs a task on a worker's connections. A walk and the merge after it share one read
  // transaction on each side (a statement stepped and not reset keeps it open): the rows left
  // out are those of the pages the merge's queries see.
  Result<TableDiff> run_task(const Item& item, core::Database& live, core::Database& backup,
                             const detail::PagePair* files, detail::TenantTally& tally,
                             const std::function<void(Item)>& add) {
    detail::TableJob job = item.job;
    std::vector<core::Statement> holds;
    if (item.walk && files) {
      for (core::Database* db : {&live, &backup}) {
        RK_TRY_ASSIGN(auto hold, db->prepare("SELECT 1 FROM sqlite_schema"));
        RK_TRY(hold.step());
        holds.push_back(std::move(hold));
      }
      const Plan& p = *item.walk;
      auto shared = detail::walk_trees(p.job.name, p.tree, live, backup, *files);
      if (shared && !shared->runs.empty()) {
        std::span<const detail::SharedRun> runs(shared->runs);
        std::int64_t work = detail::merge_work(*shared);
        if (work < kSplitRows || runs.size() < 2 || p.tree.at_once) {
          job = detail::ranged_job(p.job, p.tree, runs, true, true);
        } else {
          // Halves: the ranges before and after the middle run (which the first half counts).
          std::size_t mid = runs.size() / 2;
          job = detail::ranged_job(p.job, p.tree, runs.first(mid + 1), true, false);
          auto high = detail::ranged_job(p.job, p.tree, runs.subspan(mid), false, true);
          high.shared_rows -= runs[mid].rows;
          add(Item{std::move(high), nullptr, work / 2});
        }
      }
    }
    if (job.live.table) job.live.db = &live;
    if (job.backup.table) job.backup.db = &backup;
    return detail::diff_table(job, tally, o_.cancel, progress_fn());
  }

  // Decides which tables' trees are compared page by page (their definitions alike on both
  // sides, their merge in their tree's order or a rowid table's); the files opened for it, or
  // null where none is or their pages cannot be compared.
  static std::shared_ptr<const detail::PagePair> plan_trees(std::vector<Plan>& plans,
                                                            core::Database& live,
                                                            core::Database& backup) {
    bool any = false;
    for (auto& p : plans) {
      p.tree = detail::plan_tree(p.job, p.live, p.backup, range_column(p), live);
      any = any || !p.tree.key.empty();
    }
    if (!any) return nullptr;
    auto files = detail::open_page_pair(live.path(), backup.path());
    if (!files) return nullptr;
    for (auto& p : plans) {
      if (p.tree.key.empty()) continue;
      auto root = detail::root_page(live, p.job.name);
      std::uint64_t rows = root ? detail::estimate_rows(**files, *root) : 0;
      p.size = static_cast<std::int64_t>(std::min<std::uint64_t>(rows, INT64_MAX));
    }
    return *files;
  }

  Plan plan(const std::string& name, const DatabaseSummary& live_schema,
            const DatabaseSummary& backup_schema) const {
    Plan p;
    p.live = find_table(live_schema, name);
    p.backup = find_table(backup_schema, name);
    auto& job = p.job;
    job.name = name;
    job.samples = o_.sample_rows;
    if (o_.tenants) job.tenant_column = o_.tenants->column;
    job.live.table = p.live;
    job.backup.table = p.backup;
    if (p.live && p.backup) {
      choose_key(*p.live, *p.backup, o_.no_key, job);
      compare_columns(*p.live, *p.backup, job, p.pre);
    } else {
      const TableInfo& only = p.live ? *p.live : *p.backup;
      job.key = only.primary_key;
      for (const auto& c : only.columns) job.common.push_back(c.name);
    }
    return p;
  }

  static void estimate_sizes(std::vector<Plan>& plans, core::Database& live) {
    for (auto& p : plans) {
      if (!p.live || p.live->without_rowid) continue;
      p.size = live.query_int("SELECT max(rowid) FROM " + core::quote_identifier(p.job.name))
                   .value_or(0);
    }
  }

  // The column a table's rows can be sliced by: rowid, or an INTEGER PRIMARY KEY (its alias)
  // on both sides — never NULL, so that "< mid" and ">= mid" cover every row.
  static std::optional<std::string> range_column(const Plan& p) {
    const auto& job = p.job;
    if (job.by_content) return std::nullopt;
    auto rowid_table = [](const TableInfo* t) { return !t || !t->without_rowid; };
    if (!rowid_table(p.live) || !rowid_table(p.backup)) return std::nullopt;
    if (job.key.empty()) return std::string("rowid");
    if (job.key.size() != 1) return std::nullopt;
    for (const TableInfo* t : {p.live, p.backup}) {
      if (t && !core::is_rowid_alias(*t, job.key[0])) return std::nullopt;
    }
    return job.key[0];
  }

  // The first tasks, largest first: a table whose trees are compared is walked whole; another
  // big table in rowid order becomes two halves.
  std::deque<Item> split(std::vector<Plan>& plans, const detail::PagePair* files) const {
    std::deque<Item> items;
    for (const auto& p : plans) {
      auto column = range_column(p);
      if (files && !p.tree.key.empty()) {
        items.push_back(Item{p.job, &p, p.size});
      } else if (!column || p.size < kSplitRows) {
        items.push_back(Item{p.job, nullptr, p.size});
      } else {
        std::int64_t mid = p.size / 2;
        auto low = p.job;
        low.range_column = *column;
        low.to = mid;
        auto high = low;
        high.to.reset();
        high.from = mid;
        items.push_back(Item{std::move(low), nullptr, mid});
        items.push_back(Item{std::move(high), nullptr, mid});
      }
    }
    std::stable_sort(items.begin(), items.end(),
                     [](const Item& a, const Item& b) { return a.work > b.work; });
    return items;
  }

  // Sums the slices of each table and adds what planning found.
  Result<void> combine(const std::vector<Plan>& plans, const std::deque<Item>& items,
                       std::deque<std::optional<Result<TableDiff>>>& results,
                       const DatabaseSummary& live_schema, const DatabaseSummary& backup_schema) {
    std::map<std::string, TableDiff> by_name;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!*results[i]) return tl::unexpected(results[i]->error());
      auto& part = **results[i];
      auto [it, fresh] = by_name.try_emplace(items[i].job.name, std::move(part));
      if (!fresh) add_slice(it->second, part);
    }
    for (const auto& p : plans) {
      TableDiff t = std::move(by_name[p.job.name]);
      t.only_in_live = !p.backup;
      t.only_in_backup = !p.live;
      t.schema_changes = p.pre.schema_changes;
      if (!p.backup)
        t.schema_changes.push_back("table created since the backup (a restore drops it)");
      if (!p.live) {
        t.schema_changes.push_back("table dropped since the backup (a restore brings it back)");
      }
      compare_objects(live_schema, backup_schema, p.job.name, t.schema_changes);
      out_.tables.push_back(std::move(t));
    }
    std::sort(out_.tables.begin(), out_.tables.end(),
              [](const TableDiff& a, const TableDiff& b) { return a.name < b.name; });
    return {};
  }

  void add_slice(TableDiff& sum, TableDiff& part) const {
    sum.lost += part.lost;
    sum.revived += part.revived;
    sum.reverted += part.reverted;
    sum.unchanged += part.unchanged;
    sum.unchanged_unread += part.unchanged_unread;
    auto append = [&](std::vector<RowSample>& to, std::vector<RowSample>& from) {
      for (auto& s : from) {
        if (to.size() < o_.sample_rows) to.push_back(std::move(s));
      }
    };
    append(sum.lost_samples, part.lost_samples);
    append(sum.revived_samples, part.revived_samples);
    append(sum.reverted_samples, part.reverted_samples);
  }

  void merge_tallies(std::vector<detail::TenantTally>& tallies) {
    for (auto& tally : tallies) {
      for (auto& [id, t] : tally) {
        auto& sum = tenants_[id];
        sum.id = id;
        sum.lost += t.lost;
        sum.revived += t.revived;
        sum.reverted += t.reverted;
      }
    }
  }

  std::function<void(std::uint64_t)> progress_fn() {
    return [this](std::uint64_t rows) {
      std::lock_guard lock(progress_mutex_);
      progress_.entries_done += rows;
      throttle_.update(progress_);
    };
  }

  Result<std::vector<std::string>> table_names(const DatabaseSummary& live,
                                               const DatabaseSummary& backup) {
    std::set<std::string> names;
    for (const auto* s : {&live, &backup}) {
      for (const auto& t : s->tables) {
        if (t.kind == "table")
          names.insert(t.name);  // virtual tables and their shadows: schema only
      }
    }
    if (o_.tables.empty()) return std::vector<std::string>(names.begin(), names.end());
    for (const auto& wanted : o_.tables) {
      if (!names.count(wanted)) {
        return fail(ErrorCode::kInvalidArgument,
                    fmt::format("table \"{}\" is in neither database; check --tables", wanted));
      }
    }
    return o_.tables;
  }

  void database_wide(const DatabaseSummary& live, const DatabaseSummary& backup) {
    if (live.user_version != backup.user_version) {
      out_.schema_changes.push_back(fmt::format("user_version is {} in live, {} in the backup",
                                                live.user_version, backup.user_version));
    }
    compare_objects(live, backup, "", out_.schema_changes);
  }

  // Labels from the tenant table, live's first, then the backup's.
  void label_tenants(core::Database& live, core::Database& backup) {
    if (!o_.tenants) return;
    for (auto* db : {&live, &backup}) {
      for (auto& [id, label] :
           core::tenant_labels(*db, *o_.tenants).value_or(std::map<std::string, std::string>{})) {
        auto it = tenants_.find(id);
        if (it != tenants_.end() && it->second.label.empty()) it->second.label = label;
      }
    }
    for (auto& [id, t] : tenants_) out_.tenants.push_back(std::move(t));
    std::stable_sort(
        out_.tenants.begin(), out_.tenants.end(),
        [](const TenantDiff& a, const TenantDiff& b) { return core::tenant_id_less(a.id, b.id); });
  }

  static constexpr std::size_t kWorkers = 2;
  static constexpr std::int64_t kSplitRows = 200'000;  // tables bigger than this are halved
  const DiffOptions& o_;
  std::mutex progress_mutex_;
  ProgressThrottle throttle_;
  Progress progress_;
  detail::TenantTally tenants_;
  DatabaseDiff out_;
};

}  // namespace

bool DatabaseDiff::changed() const {
  return !schema_changes.empty() ||
         std::any_of(tables.begin(), tables.end(), [](const TableDiff& t) { return t.changed(); });
}

Result<DatabaseDiff> diff_databases(const std::filesystem::path& backup,
                                    const std::filesystem::path& live, const DiffOptions& options) {
  RK_TRY(core::require_no_unfinished_restore(live));
  RK_TRY_ASSIGN(auto backup_db, core::Database::open_untrusted(backup));
  RK_TRY_ASSIGN(auto live_db, core::Database::open(live, core::OpenMode::kReadOnly));
  backup_db.stop_when(options.cancel);
  live_db.stop_when(options.cancel);
  return Differ(options).run(Sessions{backup_db, live_db});
}

Result<DatabaseDiff> diff_databases(const Sessions& sessions, const DiffOptions& options) {
  RK_TRY(core::require_no_unfinished_restore(sessions.live.path()));
  return Differ(options).run(sessions);
}

}  // namespace restorekit::diff
