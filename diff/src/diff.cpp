#include <restorekit/diff/diff.hpp>

#include <restorekit/core/restore_state.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <thread>

#include <fmt/format.h>

#include <restorekit/core/safe_path.hpp>

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
    // Rows both files hold byte for byte, where the pages could be compared (shared_rows.hpp).
    std::optional<detail::SharedRows> shared;
    std::vector<std::string> tree_key;  // the columns that order the table's B-tree
    bool at_once = false;               // one scan reads all ranges (tree_key)
  };

  // Tables (and ranges of big ones) are independent: two workers take them largest first, so
  // that both cores stay busy; the first works on the caller's connections, the second opens
  // its own (a connection belongs to one thread).
  Result<void> all_tables(const std::vector<std::string>& names, const Sessions& s,
                          const DatabaseSummary& live_schema,
                          const DatabaseSummary& backup_schema) {
    std::vector<Plan> plans;
    for (const auto& n : names) plans.push_back(plan(n, live_schema, backup_schema));
    estimate_sizes(plans, s.live);
    if (!o_.every_row) RK_TRY(find_shared(plans, s));
    std::vector<detail::TableJob> items = split(plans);
    std::vector<std::optional<Result<TableDiff>>> results(items.size());
    std::vector<detail::TenantTally> tallies(std::min<std::size_t>(kWorkers, items.size()));
    std::atomic<std::size_t> next{0};
    auto work = [&](std::size_t w) {
      Result<core::Database> own_backup = fail(ErrorCode::kInternal, "not opened");
      Result<core::Database> own_live = fail(ErrorCode::kInternal, "not opened");
      if (w > 0) {
        own_backup = core::Database::open_untrusted(s.backup.path());
        own_live = core::Database::open(s.live.path(), core::OpenMode::kReadOnly);
        if (own_backup) own_backup->stop_when(o_.cancel);
        if (own_live) own_live->stop_when(o_.cancel);
      }
      for (std::size_t i; (i = next.fetch_add(1)) < items.size();) {
        if (w > 0 && (!own_backup || !own_live)) {
          results[i] = tl::unexpected(!own_backup ? own_backup.error() : own_live.error());
          continue;
        }
        auto job = items[i];
        if (job.live.table) job.live.db = w > 0 ? &*own_live : &s.live;
        if (job.backup.table) job.backup.db = w > 0 ? &*own_backup : &s.backup;
        results[i] = detail::diff_table(job, tallies[w], o_.cancel, progress_fn());
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

  // Where both files hold a table's B-tree pages byte for byte, the rows in them need not be
  // read: finds them for every table whose B-tree is in the merge's order, the trees spread
  // over the workers. Both files are held still meanwhile (a statement stepped and not reset
  // keeps a read transaction open on each; the backup is opened immutable).
  Result<void> find_shared(std::vector<Plan>& plans, const Sessions& s) const {
    RK_TRY_ASSIGN(auto hold_live, s.live.prepare("SELECT 1 FROM sqlite_schema"));
    RK_TRY_ASSIGN(auto hold_backup, s.backup.prepare("SELECT 1 FROM sqlite_schema"));
    RK_TRY_ASSIGN(bool live_rows, hold_live.step());
    RK_TRY_ASSIGN(bool backup_rows, hold_backup.step());
    if (!live_rows || !backup_rows) return {};
    std::vector<std::pair<Plan*, detail::TreePair>> trees;
    for (auto& p : plans) {
      p.tree_key = tree_key(p, s.live, p.at_once);
      if (p.tree_key.empty()) continue;
      auto live_root = root_page(s.live, p.job.name);
      auto backup_root = root_page(s.backup, p.job.name);
      if (!live_root || !backup_root) continue;
      std::size_t key_columns = p.live->without_rowid ? p.tree_key.size() : 0;
      trees.push_back({&p, detail::TreePair{*live_root, *backup_root, key_columns}});
    }
    if (trees.empty()) return {};
    auto files = detail::open_page_pair(s.live.path(), s.backup.path());
    if (!files) return {};
    std::atomic<std::size_t> next{0};
    auto work = [&] {
      for (std::size_t i; (i = next.fetch_add(1)) < trees.size();) {
        trees[i].first->shared = detail::find_shared_runs(**files, trees[i].second);
      }
    };
    std::optional<std::thread> helper;
    if (trees.size() > 1) helper.emplace(work);
    work();
    if (helper) helper->join();
    return {};
  }

  // The columns that order the table's B-tree, where both sides define the table alike (else
  // nothing: every row is read). `at_once`: the merge's order is another (a rowid table merged
  // by a primary key that is not its rowid, or by content), so one sorted scan reads all ranges.
  static std::vector<std::string> tree_key(const Plan& p, core::Database& live, bool& at_once) {
    if (!p.live || !p.backup || p.live->sql != p.backup->sql || p.live->kind != "table") return {};
    if (!p.live->without_rowid) {
      auto column = range_column(p);
      at_once = !column;
      // "rowid" must name the rowid, not a column of that name.
      if ((!column || *column == "rowid") && find_column(*p.live, "rowid")) return {};
      return {column.value_or("rowid")};
    }
    if (p.job.by_content || p.job.key != p.live->primary_key) return {};
    // A WITHOUT ROWID table's B-tree is in its primary key's order: the merge's if ascending and
    // BINARY (the ranges' bounds compare in the B-tree's collation).
    auto odd = live.prepare(
        "SELECT count(*) FROM pragma_index_list(?1) AS l, pragma_index_xinfo(l.name) AS x "
        "WHERE l.origin = 'pk' AND x.key AND (x.desc OR x.coll <> 'BINARY')");
    if (!odd) return {};
    odd->bind(1, std::string_view(p.job.name));
    auto row = odd->step();
    if (!row || !*row || odd->column_int(0) != 0) return {};
    return p.job.key;
  }

  static std::optional<std::uint32_t> root_page(core::Database& db, const std::string& table) {
    auto q = db.prepare("SELECT rootpage FROM sqlite_schema WHERE type = 'table' AND name = ?1");
    if (!q) return std::nullopt;
    q->bind(1, std::string_view(table));
    auto row = q->step();
    if (!row || !*row || q->column_int(0) <= 0 || q->column_int(0) > UINT32_MAX)
      return std::nullopt;
    return static_cast<std::uint32_t>(q->column_int(0));
  }

  // The job for the key ranges between the runs of rows both files share (`first`/`last`: the
  // ranges before the first run and after the last are this job's). None between two runs of
  // consecutive rowids; a scan of all ranges at once takes at most kMaxRangesAtOnce of them (the
  // smallest runs are read with the rows around them).
  static detail::TableJob ranged(const Plan& p, std::span<const detail::SharedRun> all, bool first,
                                 bool last) {
    std::vector<detail::SharedRun> kept;
    std::span<const detail::SharedRun> runs = all;
    if (p.at_once && runs.size() >= kMaxRangesAtOnce) {
      std::vector<std::size_t> order(runs.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::partial_sort(order.begin(), order.begin() + kMaxRangesAtOnce - 1, order.end(),
                        [&](std::size_t a, std::size_t b) { return runs[a].rows > runs[b].rows; });
      order.resize(kMaxRangesAtOnce - 1);
      std::sort(order.begin(), order.end());
      for (std::size_t i : order) kept.push_back(runs[i]);
      runs = kept;
    }
    detail::TableJob job = p.job;
    job.range_key = p.tree_key;
    job.ranges_at_once = p.at_once;
    job.ranges.emplace();
    bool rowids = !p.live->without_rowid;
    for (std::size_t i = 0; i <= runs.size(); ++i) {
      if ((i == 0 && !first) || (i == runs.size() && !last)) continue;  // the other half's
      detail::KeyRange r;
      if (i > 0) r.after = runs[i - 1].last;
      if (i < runs.size()) r.before = runs[i].first;
      if (rowids && r.after && r.before && (*r.after)[0].integer + 1 == (*r.before)[0].integer)
        continue;
      job.ranges->push_back(std::move(r));
    }
    for (const auto& run : runs) job.shared_rows += run.rows;
    return job;
  }

  // The rows a table's merge reads, for the order of the jobs (the biggest first): what the
  // trees' walk counted, a range's new scan as kRangeRows rows; else max(rowid).
  static std::int64_t merge_work(const Plan& p) {
    if (!p.shared) return p.size;
    std::uint64_t shared = 0;
    for (const auto& run : p.shared->runs) shared += run.rows;
    std::uint64_t rows = p.shared->live_rows + p.shared->backup_rows;
    rows = rows > 2 * shared ? (rows - 2 * shared) / 2 : 0;
    return static_cast<std::int64_t>(rows + kRangeRows * p.shared->runs.size());
  }

  std::vector<detail::TableJob> split(std::vector<Plan>& plans) const {
    std::vector<std::pair<std::int64_t, detail::TableJob>> items;
    for (const auto& p : plans) {
      if (p.shared && !p.shared->runs.empty()) {
        std::span<const detail::SharedRun> runs(p.shared->runs);
        std::int64_t work = merge_work(p);
        if (work < kSplitRows || runs.size() < 2 || p.at_once) {
          items.emplace_back(work, ranged(p, runs, true, true));
        } else {
          // Halves: the ranges before and after the middle run (which the first half counts).
          std::size_t mid = runs.size() / 2;
          items.emplace_back(work / 2, ranged(p, runs.first(mid + 1), true, false));
          auto high = ranged(p, runs.subspan(mid), false, true);
          high.shared_rows -= runs[mid].rows;
          items.emplace_back(work / 2, std::move(high));
        }
        continue;
      }
      auto column = range_column(p);
      if (!column || p.size < kSplitRows) {
        items.emplace_back(merge_work(p), p.job);
        continue;
      }
      std::int64_t mid = p.size / 2;
      auto low = p.job;
      low.range_column = *column;
      low.to = mid;
      auto high = low;
      high.to.reset();
      high.from = mid;
      items.emplace_back(p.size / 2, std::move(low));
      items.emplace_back(p.size / 2, std::move(high));
    }
    std::stable_sort(items.begin(), items.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<detail::TableJob> out;
    for (auto& [size, job] : items) out.push_back(std::move(job));
    return out;
  }

  // Sums the slices of each table and adds what planning found.
  Result<void> combine(const std::vector<Plan>& plans, const std::vector<detail::TableJob>& items,
                       std::vector<std::optional<Result<TableDiff>>>& results,
                       const DatabaseSummary& live_schema, const DatabaseSummary& backup_schema) {
    std::map<std::string, TableDiff> by_name;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!*results[i]) return tl::unexpected(results[i]->error());
      auto& part = **results[i];
      auto [it, fresh] = by_name.try_emplace(items[i].name, std::move(part));
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
  static constexpr std::int64_t kSplitRows = 200'000;   // tables bigger than this are halved
  static constexpr std::size_t kMaxRangesAtOnce = 100;  // terms of one scan's WHERE
  static constexpr std::uint64_t kRangeRows = 16;       // a range's scan costs as many rows
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
