#include <restorekit/diff/diff.hpp>

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include <restorekit/core/safe_path.hpp>

#include "table_diff.hpp"

namespace restorekit::diff {

namespace {

using core::DatabaseSummary;
using core::TableInfo;

const TableInfo* find_table(const DatabaseSummary& s, const std::string& name) {
  for (const auto& t : s.tables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

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
      out.schema_changes.push_back(
          fmt::format("column {} added since the backup (a restore drops it and its values)",
                      core::escape_name(c.name)));
      continue;
    }
    job.common.push_back(c.name);
    if (lower(other->type) != lower(c.type)) {
      out.schema_changes.push_back(fmt::format("column {} is declared {} in live, {} in the backup",
                                               core::escape_name(c.name), c.type, other->type));
    }
  }
  for (const auto& c : backup.columns) {
    if (!find_column(live, c.name)) {
      out.schema_changes.push_back(
          fmt::format("column {} removed since the backup (a restore "
                      "brings it back)",
                      core::escape_name(c.name)));
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
      out.push_back(fmt::format("{} added since the backup", core::escape_name(name)));
    } else if (it->second->sql != o->sql) {
      out.push_back(fmt::format("{} changed since the backup", core::escape_name(name)));
    }
  }
  for (const auto& [name, o] : in_backup) {
    if (!in_live.count(name)) {
      out.push_back(fmt::format("{} removed since the backup (a restore brings it back)",
                                core::escape_name(name)));
    }
  }
}

class Differ {
 public:
  Differ(const DiffOptions& o) : o_(o), throttle_(o.progress) {}

  Result<DatabaseDiff> run(const std::filesystem::path& backup_path,
                           const std::filesystem::path& live_path) {
    RK_TRY_ASSIGN(auto backup, core::Database::open_untrusted(backup_path));
    RK_TRY_ASSIGN(auto live, core::Database::open(live_path, core::OpenMode::kReadOnly));
    RK_TRY_ASSIGN(auto backup_schema, core::describe_database(backup, core::CountRows::kNo));
    RK_TRY_ASSIGN(auto live_schema, core::describe_database(live, core::CountRows::kNo));
    RK_TRY_ASSIGN(auto names, table_names(live_schema, backup_schema));
    for (const auto& name : names) {
      RK_TRY_ASSIGN(auto t, table(name, live, live_schema, backup, backup_schema));
      out_.lost += t.lost;
      out_.revived += t.revived;
      out_.reverted += t.reverted;
      out_.tables.push_back(std::move(t));
    }
    database_wide(live_schema, backup_schema);
    label_tenants(live, live_schema, backup, backup_schema);
    return std::move(out_);
  }

 private:
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
                    fmt::format("table \"{}\" is in neither database; check --tables",
                                core::escape_name(wanted)));
      }
    }
    return o_.tables;
  }

  Result<TableDiff> table(const std::string& name, core::Database& live,
                          const DatabaseSummary& live_schema, core::Database& backup,
                          const DatabaseSummary& backup_schema) {
    const TableInfo* l = find_table(live_schema, name);
    const TableInfo* b = find_table(backup_schema, name);
    detail::TableJob job;
    job.name = name;
    job.samples = o_.sample_rows;
    if (o_.tenants) job.tenant_column = o_.tenants->column;
    if (l) job.live = {&live, l};
    if (b) job.backup = {&backup, b};
    TableDiff pre;
    if (l && b) {
      choose_key(*l, *b, o_.no_key, job);
      compare_columns(*l, *b, job, pre);
    } else {
      const TableInfo& only = l ? *l : *b;
      job.key = only.primary_key;
      for (const auto& c : only.columns) job.common.push_back(c.name);
    }
    auto progress = [this](std::uint64_t rows) {
      progress_.entries_done += rows;
      throttle_.update(progress_);
    };
    RK_TRY_ASSIGN(auto t, detail::diff_table(job, tenants_, o_.cancel, progress));
    t.only_in_live = !b;
    t.only_in_backup = !l;
    t.schema_changes = std::move(pre.schema_changes);
    if (!b) t.schema_changes.push_back("table created since the backup (a restore drops it)");
    if (!l) t.schema_changes.push_back("table dropped since the backup (a restore brings it back)");
    compare_objects(live_schema, backup_schema, name, t.schema_changes);
    return t;
  }

  void database_wide(const DatabaseSummary& live, const DatabaseSummary& backup) {
    if (live.user_version != backup.user_version) {
      out_.schema_changes.push_back(fmt::format("user_version is {} in live, {} in the backup",
                                                live.user_version, backup.user_version));
    }
    compare_objects(live, backup, "", out_.schema_changes);
  }

  // Labels from the tenant table, live's first, then the backup's.
  void label_tenants(core::Database& live, const DatabaseSummary& live_schema,
                     core::Database& backup, const DatabaseSummary& backup_schema) {
    if (!o_.tenants) return;
    for (auto [db, schema] : {std::pair{&live, &live_schema}, std::pair{&backup, &backup_schema}}) {
      if (auto counts = core::count_tenants(*db, *schema, *o_.tenants)) {
        for (const auto& c : *counts) {
          auto it = tenants_.find(c.id);
          if (it != tenants_.end() && it->second.label.empty()) it->second.label = c.label;
        }
      }
    }
    for (auto& [id, t] : tenants_) out_.tenants.push_back(std::move(t));
    std::stable_sort(
        out_.tenants.begin(), out_.tenants.end(),
        [](const TenantDiff& a, const TenantDiff& b) { return core::tenant_id_less(a.id, b.id); });
  }

  const DiffOptions& o_;
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
  return Differ(options).run(backup, live);
}

}  // namespace restorekit::diff
