// Schema introspection: reads sqlite_schema and pragma table-valued functions only, so it is
// safe on untrusted connections (nothing the schema defines is executed).
#include <restorekit/core/sqlite.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <map>

#include <fmt/format.h>

namespace restorekit::core {

namespace {

// The collation of each primary-key column, from the index that enforces the key (a rowid
// alias has none: integers need no collation).
Result<void> read_key_collations(Database& db, TableInfo& table) {
  RK_TRY_ASSIGN(auto stmt, db.prepare("SELECT x.name, x.coll FROM pragma_index_list(?1) AS l, "
                                      "pragma_index_xinfo(l.name) AS x WHERE l.origin = 'pk' "
                                      "AND x.key = 1"));
  stmt.bind(1, std::string_view(table.name));
  return stmt.for_each([&]() -> Result<void> {
    for (auto& c : table.columns) {
      if (c.name != stmt.column_text(0)) continue;
      c.collation = stmt.column_text(1);
      for (char& ch : c.collation)
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    return {};
  });
}

Result<void> read_columns(Database& db, TableInfo& table) {
  RK_TRY_ASSIGN(auto stmt, db.prepare("SELECT name, type, \"notnull\", pk FROM "
                                      "pragma_table_info(?1) ORDER BY cid"));
  stmt.bind(1, std::string_view(table.name));
  std::vector<std::pair<int, std::string>> key;
  RK_TRY(stmt.for_each([&]() -> Result<void> {
    ColumnInfo col{std::string(stmt.column_text(0)), std::string(stmt.column_text(1)),
                   stmt.column_int(2) != 0, static_cast<int>(stmt.column_int(3))};
    if (col.pk_position > 0) key.emplace_back(col.pk_position, col.name);
    table.columns.push_back(std::move(col));
    return {};
  }));
  std::sort(key.begin(), key.end());
  for (auto& [pos, name] : key) table.primary_key.push_back(name);
  return read_key_collations(db, table);
}

Result<void> read_foreign_keys(Database& db, TableInfo& table) {
  RK_TRY_ASSIGN(auto stmt, db.prepare("SELECT id, \"table\", \"from\", \"to\" FROM "
                                      "pragma_foreign_key_list(?1) ORDER BY id, seq"));
  stmt.bind(1, std::string_view(table.name));
  std::int64_t current = -1;
  RK_TRY(stmt.for_each([&]() -> Result<void> {
    if (stmt.column_int(0) != current) {
      current = stmt.column_int(0);
      table.foreign_keys.push_back(ForeignKey{std::string(stmt.column_text(1)), {}, {}});
    }
    table.foreign_keys.back().from.emplace_back(stmt.column_text(2));
    table.foreign_keys.back().to.emplace_back(stmt.column_text(3));
    return {};
  }));
  return {};
}

// The main schema's tables (no views, no sqlite_ tables) with their kind and CREATE statement,
// `condition` narrowing them (parameter ?1 bound to `name` where given).
constexpr std::string_view kTablesSql =
    "SELECT l.name, l.type, l.wr, s.sql FROM pragma_table_list AS l LEFT JOIN sqlite_schema AS s "
    "ON s.name = l.name AND s.type = 'table' WHERE l.schema = 'main' AND l.type != 'view' "
    "AND l.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' {} ORDER BY l.name";

Result<std::vector<TableInfo>> read_tables(Database& db, std::string_view condition,
                                           std::optional<std::string_view> name) {
  RK_TRY_ASSIGN(auto stmt, db.prepare(fmt::format(kTablesSql, condition)));
  if (name) stmt.bind(1, *name);
  std::vector<TableInfo> tables;
  RK_TRY(stmt.for_each([&]() -> Result<void> {
    TableInfo t;
    t.name = stmt.column_text(0);
    t.kind = stmt.column_text(1);
    t.without_rowid = stmt.column_int(2) != 0;
    t.sql = stmt.column_text(3);
    tables.push_back(std::move(t));
    return {};
  }));
  for (auto& t : tables) {
    RK_TRY(read_columns(db, t));
    RK_TRY(read_foreign_keys(db, t));
  }
  return tables;
}

Result<void> read_objects(Database& db, DatabaseSummary& summary) {
  RK_TRY_ASSIGN(auto stmt, db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema "
                                      "WHERE type IN ('index','trigger','view') AND sql IS NOT "
                                      "NULL ORDER BY type, name"));
  RK_TRY(stmt.for_each([&]() -> Result<void> {
    summary.objects.push_back(
        SchemaObject{std::string(stmt.column_text(0)), std::string(stmt.column_text(1)),
                     std::string(stmt.column_text(2)), std::string(stmt.column_text(3))});
    return {};
  }));
  return {};
}

Result<void> count_rows(Database& db, DatabaseSummary& summary) {
  for (auto& t : summary.tables) {
    if (t.kind == "virtual") continue;
    RK_TRY_ASSIGN(auto n, db.query_int("SELECT count(*) FROM " + quote_identifier(t.name)));
    t.rows = static_cast<std::uint64_t>(n);
  }
  return {};
}

}  // namespace

Result<DatabaseSummary> describe_database(Database& db, CountRows count) {
  DatabaseSummary summary;
  RK_TRY_ASSIGN(summary.user_version, db.query_int("PRAGMA user_version"));
  RK_TRY_ASSIGN(summary.page_size, db.query_int("PRAGMA page_size"));
  RK_TRY_ASSIGN(summary.page_count, db.query_int("PRAGMA page_count"));
  RK_TRY_ASSIGN(summary.tables, read_tables(db, "", std::nullopt));
  RK_TRY(read_objects(db, summary));
  if (count == CountRows::kYes) RK_TRY(count_rows(db, summary));
  return summary;
}

Result<TableInfo> describe_table(Database& db, std::string_view name) {
  RK_TRY_ASSIGN(auto tables, read_tables(db, "AND l.name = ?1 COLLATE NOCASE", name));
  if (tables.size() != 1) {
    return fail(ErrorCode::kNotFound, fmt::format("no table {} in {}", name, db.path()), db.path());
  }
  return std::move(tables.front());
}

Result<std::map<std::string, std::string>> tenant_labels(Database& db, const TenantSpec& spec) {
  std::map<std::string, std::string> out;
  if (!spec.table || !spec.label) return out;
  RK_TRY_ASSIGN(auto stmt, db.prepare(fmt::format(
                               "SELECT CAST({} AS TEXT), {} FROM {}", quote_identifier(spec.key),
                               quote_identifier(*spec.label), quote_identifier(*spec.table))));
  RK_TRY(stmt.for_each([&]() -> Result<void> {
    out[std::string(stmt.column_text(0))] = stmt.column_text(1);
    return {};
  }));
  return out;
}

bool too_wide_to_select(const TableInfo& table) {
  constexpr std::size_t kColumnLimit = 2000;  // SQLITE_MAX_COLUMN as Debian builds it
  return table.kind == "table" && table.columns.size() + 1 > kColumnLimit;
}

bool is_rowid_alias(const TableInfo& table, std::string_view column) {
  if (table.without_rowid || table.primary_key.size() != 1 || table.primary_key[0] != column) {
    return false;
  }
  return std::any_of(table.columns.begin(), table.columns.end(), [&](const ColumnInfo& c) {
    return c.name == column && c.type.size() == 7 &&
           std::equal(c.type.begin(), c.type.end(), "INTEGER", [](char a, char b) {
             return std::toupper(static_cast<unsigned char>(a)) == b;
           });
  });
}

bool tenant_id_less(std::string_view a, std::string_view b) {
  auto numeric = [](std::string_view s) -> std::optional<long long> {
    long long v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && ec == std::errc() && end == s.data() + s.size()
               ? std::optional<long long>(v)
               : std::nullopt;
  };
  auto na = numeric(a);
  auto nb = numeric(b);
  if (na && nb) return *na < *nb;
  if (na.has_value() != nb.has_value()) return na.has_value();
  return a < b;
}

Result<std::vector<TenantCount>> count_tenants(Database& db, const DatabaseSummary& summary,
                                               const TenantSpec& spec) {
  std::map<std::string, TenantCount> tenants;
  bool any = false;
  for (const auto& t : summary.tables) {
    bool has = std::any_of(t.columns.begin(), t.columns.end(),
                           [&](const ColumnInfo& c) { return c.name == spec.column; });
    bool is_tenant_table = spec.table && t.name == *spec.table;
    if ((!has && !is_tenant_table) || t.kind == "virtual") continue;
    any = true;
    const std::string& col = is_tenant_table ? spec.key : spec.column;
    RK_TRY_ASSIGN(auto stmt,
                  db.prepare(fmt::format("SELECT CAST({0} AS TEXT), count(*) FROM {1} "
                                         "GROUP BY 1",
                                         quote_identifier(col), quote_identifier(t.name))));
    RK_TRY(stmt.for_each([&]() -> Result<void> {
      std::string id(stmt.column_text(0));
      auto& entry = tenants[id];
      entry.id = id;
      entry.rows += static_cast<std::uint64_t>(stmt.column_int(1));
      return {};
    }));
  }
  if (!any) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("no table of {} has the tenant column \"{}\"; check the profile's "
                            "tenant_column",
                            db.path(), spec.column),
                db.path());
  }
  RK_TRY_ASSIGN(auto labels, tenant_labels(db, spec));
  for (auto& [id, label] : labels) {
    if (auto it = tenants.find(id); it != tenants.end()) it->second.label = std::move(label);
  }
  std::vector<TenantCount> out;
  for (auto& [id, t] : tenants) out.push_back(std::move(t));
  std::stable_sort(out.begin(), out.end(), [](const TenantCount& a, const TenantCount& b) {
    return tenant_id_less(a.id, b.id);
  });
  return out;
}

}  // namespace restorekit::core
