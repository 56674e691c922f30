// A selective restore (tenants and/or tables) as one transaction: delete the chosen live rows,
// insert the backup's, then count rows whose foreign keys point nowhere.

#include <algorithm>
#include <charconv>
#include <map>

#include <fmt/format.h>

#include <restorekit/core/safe_path.hpp>

#include "internal.hpp"

namespace restorekit::restore::detail {

namespace {

// SQLite URI for a read-only, immutable open of a file restorekit staged.
std::string immutable_uri(const fs::path& p) {
  std::string out = "file:";
  for (unsigned char c : fs::absolute(p).string()) {
    if (c == '%' || c == '?' || c == '#' || c < 0x20 || c >= 0x7f) {
      out += fmt::format("%{:02X}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "?mode=ro&immutable=1";
}

using core::find_table;
using core::has_column;

void bind_ids(core::Statement& st, const std::vector<std::string>& ids) {
  for (std::size_t i = 0; i < ids.size(); ++i)
    core::bind_typed(st, static_cast<int>(i) + 1, ids[i]);
}

Result<std::uint64_t> run_counted(core::Database& db, const std::string& sql,
                                  const std::vector<std::string>& ids) {
  RK_TRY_ASSIGN(auto st, db.prepare(sql));
  bind_ids(st, ids);
  RK_TRY(st.run());
  return static_cast<std::uint64_t>(db.changes());
}

struct Target {
  const core::TableInfo* live;
  std::vector<std::string> columns;  // common to both sides
  std::optional<std::string> tenant_column;
};

Result<std::vector<Target>> choose_tables(const core::DatabaseSummary& live,
                                          const core::DatabaseSummary& backup,
                                          const Selection& sel) {
  for (const auto& name : sel.tables) {
    if (!find_table(live, name) || !find_table(backup, name)) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("table \"{}\" is not in both the live database and the backup; a "
                              "selective restore restores tables both have",
                              name),
                  name);
    }
  }
  std::vector<Target> out;
  for (const auto& t : live.tables) {
    if (t.kind != "table" || t.name.rfind("sqlite_", 0) == 0) continue;
    const auto* b = find_table(backup, t.name);
    if (!b || b->kind != "table") continue;
    if (!sel.tables.empty() &&
        std::find(sel.tables.begin(), sel.tables.end(), t.name) == sel.tables.end()) {
      continue;
    }
    if (std::find(sel.exclude_tables.begin(), sel.exclude_tables.end(), t.name) !=
        sel.exclude_tables.end()) {
      continue;
    }
    Target target{&t, {}, std::nullopt};
    if (!sel.tenants.empty()) {
      const auto& spec = *sel.tenant;
      if (spec.table && t.name == *spec.table && has_column(t, spec.key) &&
          has_column(*b, spec.key)) {
        target.tenant_column = spec.key;
      } else if (has_column(t, spec.column) && has_column(*b, spec.column)) {
        target.tenant_column = spec.column;
      } else {
        continue;  // not a tenant's table: left alone
      }
    }
    for (const auto& c : t.columns) {
      if (has_column(*b, c.name)) target.columns.push_back(c.name);
    }
    out.push_back(std::move(target));
  }
  if (!sel.tenants.empty() && out.empty()) {
    return fail(
        ErrorCode::kInvalidArgument,
        fmt::format("no table has the tenant column \"{}\" in both databases", sel.tenant->column));
  }
  return out;
}

// Replaces a table's rows (a tenant's, where the table has the tenant column) with the
// backup's, attached as rk_backup.
Result<TableChange> replace_rows(core::Database& target, const Target& t, const Selection& sel) {
  std::string marks;
  for (std::size_t i = 0; i < sel.tenants.size(); ++i) marks += i ? ",?" : "?";
  TableChange c{t.live->name};
  std::string q = core::quote_identifier(t.live->name);
  std::string cols;
  for (const auto& col : t.columns)
    cols += (cols.empty() ? "" : ", ") + core::quote_identifier(col);
  std::string where;
  std::vector<std::string> none;
  if (t.tenant_column) {
    where = fmt::format(" WHERE {} IN ({})", core::quote_identifier(*t.tenant_column), marks);
    if (sel.drop_other_tenants) {
      RK_TRY_ASSIGN(auto others,
                    run_counted(target,
                                fmt::format("DELETE FROM main.{} WHERE {} NOT IN ({})", q,
                                            core::quote_identifier(*t.tenant_column), marks),
                                sel.tenants));
      c.deleted += others;
    }
  }
  const auto& ids = t.tenant_column ? sel.tenants : none;
  RK_TRY_ASSIGN(auto deleted,
                run_counted(target, fmt::format("DELETE FROM main.{}{}", q, where), ids));
  c.deleted += deleted;
  RK_TRY_ASSIGN(c.inserted,
                run_counted(target,
                            fmt::format("INSERT INTO main.{} ({}) SELECT {} FROM rk_backup.{}{}", q,
                                        cols, cols, q, where),
                            ids));
  return c;
}

// The rows whose foreign keys point nowhere after the restore that did not before, per table.
void count_orphans(std::map<std::string, std::uint64_t>& before,
                   const std::map<std::string, std::uint64_t>& after,
                   std::vector<TableChange>& changes) {
  for (const auto& orphan : after) {
    const std::string& table = orphan.first;  // not a structured binding: clang 14 (the fuzz
                                              // build) cannot capture one in the lambda
    std::uint64_t had = before.count(table) ? before[table] : 0;
    if (orphan.second <= had) continue;
    auto it = std::find_if(changes.begin(), changes.end(),
                           [&](const auto& c) { return c.table == table; });
    if (it == changes.end()) it = changes.insert(changes.end(), TableChange{table});
    it->orphaned = orphan.second - had;
  }
}

}  // namespace

// Rows of each table whose foreign keys point nowhere (PRAGMA foreign_key_check).
Result<std::map<std::string, std::uint64_t>> fk_violations(core::Database& db) {
  RK_TRY_ASSIGN(auto fk, db.prepare("PRAGMA main.foreign_key_check"));
  std::map<std::string, std::uint64_t> out;
  RK_TRY(fk.for_each([&]() -> Result<void> {
    ++out[std::string(fk.column_text(0))];
    return {};
  }));
  return out;
}

Result<std::vector<TableChange>> run_selective(core::Database& target, const fs::path& staged,
                                               const Selection& sel,
                                               const std::vector<core::ColumnRef>& references,
                                               RecordListWriter* list) {
  if (!sel.tenants.empty() && !sel.tenant) {
    return fail(ErrorCode::kInvalidArgument,
                "a tenant restore needs the tenant column: give --tenant-column or a profile");
  }
  if (sel.records() && (!sel.tenants.empty() || !sel.tables.empty())) {
    return fail(ErrorCode::kInvalidArgument,
                "a record restore (--row, --where) takes the rows it is given and what hangs off "
                "them; give it without --tenant or --tables");
  }
  target.apply_defences();
  RK_TRY(target.exec("PRAGMA foreign_keys=OFF"));
  RK_TRY_ASSIGN(auto live_summary, core::describe_database(target, core::CountRows::kNo));
  RK_TRY_ASSIGN(auto backup_db, core::Database::open_untrusted(staged));
  RK_TRY_ASSIGN(auto backup_summary, core::describe_database(backup_db, core::CountRows::kNo));
  std::vector<Target> targets;
  if (!sel.records()) {
    RK_TRY_ASSIGN(targets, choose_tables(live_summary, backup_summary, sel));
  }

  RK_TRY_ASSIGN(auto attach, target.prepare("ATTACH ? AS rk_backup"));
  attach.bind(1, std::string_view(immutable_uri(staged)));
  RK_TRY(attach.run());
  std::vector<TableChange> changes;
  auto body = [&]() -> Result<void> {
    RK_TRY(target.exec("BEGIN IMMEDIATE"));
    std::map<std::string, std::uint64_t> before;  // a record restore adds no violation
    if (sel.records()) {
      RK_TRY_ASSIGN(before, fk_violations(target));
      RK_TRY_ASSIGN(changes, run_records(target, live_summary, backup_summary, backup_db, sel,
                                         references, list));
    }
    for (const auto& t : targets) {
      RK_TRY_ASSIGN(auto c, replace_rows(target, t, sel));
      changes.push_back(std::move(c));
    }
    RK_TRY_ASSIGN(auto after, fk_violations(target));
    count_orphans(before, after, changes);
    return target.exec("COMMIT");
  };
  auto done = body();
  if (!done) (void)target.exec("ROLLBACK");
  (void)target.exec("DETACH rk_backup");
  RK_TRY(done);
  return changes;
}

}  // namespace restorekit::restore::detail
