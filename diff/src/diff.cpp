#include <restorekit/diff/diff.hpp>

#include <restorekit/core/restore_state.hpp>

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include <restorekit/core/safe_path.hpp>

#include "table_diff.hpp"
#include "table_tasks.hpp"

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

  // Tables (and ranges of big ones) are independent: two workers take them largest first
  // (table_tasks.hpp).
  Result<void> all_tables(const std::vector<std::string>& names, const Sessions& s,
                          const DatabaseSummary& live_schema,
                          const DatabaseSummary& backup_schema) {
    std::vector<detail::TablePlan> plans;
    for (const auto& n : names) plans.push_back(plan(n, live_schema, backup_schema));
    auto files = detail::plan_sizes_and_trees(plans, s.live, s.backup, o_.every_row);
    auto tasks = detail::first_tasks(plans, files.get());
    auto done = detail::run_tasks(tasks, s, files.get(), o_.cancel, progress_fn());
    RK_TRY(combine(plans, tasks, done.results, live_schema, backup_schema));
    merge_tallies(done.tallies);
    return {};
  }

  detail::TablePlan plan(const std::string& name, const DatabaseSummary& live_schema,
                         const DatabaseSummary& backup_schema) const {
    detail::TablePlan p;
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

  // Sums the slices of each table and adds what planning found.
  Result<void> combine(const std::vector<detail::TablePlan>& plans,
                       const std::deque<detail::TableTask>& items,
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
