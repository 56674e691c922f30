#include "references.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include <restorekit/core/names.hpp>
#include <restorekit/core/safe_path.hpp>

namespace restorekit::restore::detail {

namespace {

using core::quote_identifier;
using core::TableInfo;

using core::bind_typed;
using core::find_table;
using core::has_column;

void bind_all(core::Statement& st, const std::vector<std::string>& values) {
  for (std::size_t i = 0; i < values.size(); ++i)
    bind_typed(st, static_cast<int>(i) + 1, values[i]);
}

// "a = ?1 AND b = ?2" over `columns`, parameters from `first`.
std::string equalities(const std::vector<std::string>& columns, int first = 1) {
  std::string out;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    out += fmt::format("{}{} = ?{}", i ? " AND " : "", quote_identifier(columns[i]),
                       first + static_cast<int>(i));
  }
  return out;
}

class Collector {
 public:
  Collector(core::Database& db, const core::Profile& profile, std::string root, ReferenceOptions o)
      : db_(db), profile_(profile), root_(std::move(root)), o_(std::move(o)) {
    if (!o_.tenant) o_.tenant = profile.tenant_spec();
  }

  Result<void> load() {
    if (profile_.references.empty()) {
      return fail(ErrorCode::kInvalidArgument,
                  "choosing documents by tenant or row needs a profile whose [documents] "
                  "references name the columns that hold document names");
    }
    RK_TRY_ASSIGN(summary_, core::describe_database(db_, core::CountRows::kNo));
    return {};
  }

  Result<void> tenant(const std::string& id) {
    if (!o_.tenant) {
      return fail(ErrorCode::kInvalidArgument,
                  "choosing documents by tenant needs the tenant column: a profile with "
                  "[database] tenant_column");
    }
    const core::TenantSpec& spec = *o_.tenant;
    std::uint64_t rows = 0;
    for (const auto& ref : profile_.references) {
      const TableInfo* t = find_table(summary_, ref.table);
      if (!t || !has_column(*t, ref.column)) continue;
      // The tenant table's own row by its key (as a tenant restore takes it), else the rows
      // holding the tenant column.
      const std::string& column = spec.table && ref.table == *spec.table && has_column(*t, spec.key)
                                      ? spec.key
                                      : spec.column;
      if (!has_column(*t, column)) {
        unreachable(ref, fmt::format("it has no tenant column \"{}\"", spec.column));
        continue;
      }
      RK_TRY_ASSIGN(auto n, collect(ref, equalities({column}), {id}));
      rows += n;
    }
    if (rows == 0 && o_.tenant_without_documents_fails) {
      return fail(ErrorCode::kNotFound,
                  fmt::format("no row of tenant {} names a document in the backup's database "
                              "(the reference columns hold none); check the tenant id",
                              id));
    }
    return {};
  }

  Result<void> row(const RowRef& r) {
    const TableInfo* t = find_table(summary_, r.table);
    if (!t) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("the backup's database has no table \"{}\"", r.table), r.table);
    }
    std::vector<std::string> key = t->primary_key;
    if (key.empty()) key = {"rowid"};
    if (key.size() != r.key.size()) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("{} has a key of {} column{} ({}); give {}:{}", r.table, key.size(),
                              key.size() == 1 ? "" : "s", fmt::join(key, ", "), r.table,
                              fmt::join(key, ",")),
                  r.table);
    }
    RK_TRY(require_row(*t, key, r));
    for (const auto& ref : profile_.references) {
      if (ref.table == r.table) RK_TRY(collect(ref, equalities(key), r.key));
      RK_TRY(children(ref, *t, key, r.key));
    }
    return {};
  }

  ReferencedDocuments take() { return std::move(out_); }

 private:
  Result<void> require_row(const TableInfo& t, const std::vector<std::string>& key,
                           const RowRef& r) {
    RK_TRY_ASSIGN(auto st, db_.prepare(fmt::format("SELECT count(*) FROM {} WHERE {}",
                                                   quote_identifier(t.name), equalities(key))));
    bind_all(st, r.key);
    RK_TRY_ASSIGN(bool got, st.step());
    if (got && st.column_int(0) > 0) return {};
    return fail(ErrorCode::kNotFound,
                fmt::format("the backup's database has no row {} = {} in {}", fmt::join(key, ","),
                            fmt::join(r.key, ","), t.name),
                t.name);
  }

  // Rows of a reference table that point at the chosen row through a declared foreign key.
  Result<void> children(const core::ColumnRef& ref, const TableInfo& parent,
                        const std::vector<std::string>& key,
                        const std::vector<std::string>& value) {
    const TableInfo* child = find_table(summary_, ref.table);
    if (!child) return {};
    for (const auto& fk : child->foreign_keys) {
      if (fk.table != parent.name || fk.from.empty()) continue;
      std::vector<std::string> to = fk.to;
      for (std::size_t i = 0; i < to.size(); ++i) {
        if (to[i].empty() && i < parent.primary_key.size()) to[i] = parent.primary_key[i];
      }
      // The child rows holding the parent's values of the referenced columns, compared in SQL
      // (as SQLite compares them, whatever their types).
      std::string parent_values =
          fmt::format("SELECT {} FROM {} WHERE {}", fmt::join(quoted(to), ", "),
                      quote_identifier(parent.name), equalities(key));
      RK_TRY(collect(ref,
                     fmt::format("({}) IN ({})", fmt::join(quoted(fk.from), ", "), parent_values),
                     value));
    }
    return {};
  }

  static std::vector<std::string> quoted(const std::vector<std::string>& names) {
    std::vector<std::string> out;
    for (const auto& n : names) out.push_back(quote_identifier(n));
    return out;
  }

  // Adds the documents that `ref` names in the rows `where` chooses (its parameters ?1.. are
  // `values`). @return how many rows named one.
  Result<std::uint64_t> collect(const core::ColumnRef& ref, const std::string& where,
                                const std::vector<std::string>& values) {
    std::string col = quote_identifier(ref.column);
    RK_TRY_ASSIGN(auto st, db_.prepare(fmt::format(
                               "SELECT CAST({} AS TEXT) FROM {} WHERE {} AND {} IS NOT NULL "
                               "AND {} != ''",
                               col, quote_identifier(ref.table), where, col, col)));
    bind_all(st, values);
    std::uint64_t rows = 0;
    RK_TRY(st.for_each([&]() -> Result<void> {
      ++rows;
      auto path = core::normalize_entry_path(root_ + std::string(st.column_text(0)));
      if (!path) return {};
      auto key = core::name_key(*path);
      if (o_.sink) return o_.sink(key);
      out_.keys.insert(std::move(key));
      return {};
    }));
    return rows;
  }

  void unreachable(const core::ColumnRef& ref, const std::string& why) {
    out_.notes.push_back(
        core::Finding{"REFERENCES_NOT_CHOSEN", core::Severity::kWarning, ref.table,
                      fmt::format("documents named by {}.{} are not chosen by tenant: {}",
                                  ref.table, ref.column, why)});
  }

  core::Database& db_;
  const core::Profile& profile_;
  std::string root_;
  ReferenceOptions o_;
  core::DatabaseSummary summary_;
  ReferencedDocuments out_;
};

}  // namespace

Result<ReferencedDocuments> referenced_documents(core::Database& db, const core::Profile& profile,
                                                 const DocumentChoice& choice,
                                                 const std::string& root,
                                                 const ReferenceOptions& options) {
  Collector c(db, profile, root, options);
  RK_TRY(c.load());
  for (const auto& t : choice.tenants) RK_TRY(c.tenant(t));
  for (const auto& r : choice.rows) RK_TRY(c.row(r));
  return c.take();
}

}  // namespace restorekit::restore::detail
