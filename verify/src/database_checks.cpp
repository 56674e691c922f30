#include "database_checks.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <thread>

#include <fmt/format.h>

#include <restorekit/core/names.hpp>
#include <restorekit/core/safe_path.hpp>
#include <restorekit/core/sql_dump.hpp>

namespace restorekit::verify::detail {

namespace {

using core::Finding;
using core::Severity;

constexpr int kMaxIntegrityMessages = 20;
constexpr std::size_t kMaxExampleRows = 10;

// Functions with effects outside the database (SQLite's shell and extensions).
constexpr std::array<std::string_view, 11> kSideEffectFunctions = {
    "load_extension", "writefile",      "readfile",         "edit",   "fts3_tokenizer", "zipfile",
    "fsdir",          "sqlar_compress", "sqlar_uncompress", "shell_", "system"};

// Virtual table modules that only read and write inside the database.
constexpr std::array<std::string_view, 6> kInnocuousModules = {"fts3",  "fts4",    "fts5",
                                                               "rtree", "geopoly", "fts5vocab"};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool calls_function(const std::string& sql, std::string_view fn) {
  for (std::size_t pos = sql.find(fn); pos != std::string::npos; pos = sql.find(fn, pos + 1)) {
    bool word_start = pos == 0 || !(std::isalnum(static_cast<unsigned char>(sql[pos - 1])) ||
                                    sql[pos - 1] == '_');
    if (!word_start) continue;
    if (fn.back() == '_') return true;  // a prefix family such as shell_*
    std::size_t after = pos + fn.size();
    while (after < sql.size() && std::isspace(static_cast<unsigned char>(sql[after]))) ++after;
    if (after < sql.size() && sql[after] == '(') return true;
  }
  return false;
}

std::string virtual_module(const std::string& lowered_sql) {
  auto pos = lowered_sql.find(" using ");
  if (pos == std::string::npos) return {};
  std::size_t start = pos + 7;
  while (start < lowered_sql.size() && std::isspace(static_cast<unsigned char>(lowered_sql[start])))
    ++start;
  std::size_t end = start;
  while (end < lowered_sql.size() &&
         (std::isalnum(static_cast<unsigned char>(lowered_sql[end])) || lowered_sql[end] == '_')) {
    ++end;
  }
  return lowered_sql.substr(start, end - start);
}

void integrity(core::Database& db, const std::string& entry, DatabaseCheck& out) {
  auto st = db.prepare(fmt::format("PRAGMA integrity_check({})", kMaxIntegrityMessages));
  std::vector<std::string> problems;
  if (st) {
    (void)st->for_each([&]() -> Result<void> {
      std::string line(st->column_text(0));
      if (line != "ok") problems.push_back(line);
      return {};
    });
  }
  out.result.integrity_ok = st && problems.empty();
  if (!st) problems.push_back(st.error().message);
  if (problems.empty()) return;
  std::string joined;
  for (std::size_t i = 0; i < problems.size() && i < 3; ++i) {
    joined += (i ? "; " : "") + problems[i];
  }
  out.findings.push_back(
      Finding{"DB_INTEGRITY", Severity::kError, entry,
              fmt::format("database {} fails PRAGMA integrity_check ({} problem{}{}): {}", entry,
                          problems.size(), problems.size() == 1 ? "" : "s",
                          problems.size() >= kMaxIntegrityMessages ? " or more" : "", joined)});
}

void foreign_keys(core::Database& db, const std::string& entry, DatabaseCheck& out) {
  auto st = db.prepare(
      "SELECT \"table\", parent, count(*) FROM pragma_foreign_key_check "
      "GROUP BY 1, 2 ORDER BY 1, 2");
  if (!st) return;
  (void)st->for_each([&]() -> Result<void> {
    auto n = static_cast<std::uint64_t>(st->column_int(2));
    out.result.foreign_key_violations += n;
    out.findings.push_back(Finding{
        "DB_FOREIGN_KEY", Severity::kWarning, fmt::format("{}:{}", entry, st->column_text(0)),
        fmt::format("{} row{} of table {} in {} reference{} missing rows of {} (declared foreign "
                    "key not enforced by the application)",
                    n, n == 1 ? "" : "s", st->column_text(0), entry, n == 1 ? "s" : "",
                    st->column_text(1))});
    return {};
  });
}

void untrusted_schema(const core::DatabaseSummary& s, const std::string& entry,
                      DatabaseCheck& out) {
  auto flag = [&](std::string_view type, const std::string& name, const std::string& why) {
    out.findings.push_back(
        Finding{"UNTRUSTED_SCHEMA", Severity::kWarning, fmt::format("{}:{}", entry, name),
                fmt::format("{} {} in {} {}; restorekit never runs it, but the application would",
                            type, name, entry, why)});
  };
  for (const auto& o : s.objects) {
    if (o.type == "index") continue;
    std::string sql = lower(o.sql);
    for (auto fn : kSideEffectFunctions) {
      if (calls_function(sql, fn)) {
        flag(o.type, o.name,
             fmt::format("calls {}(), a function with effects outside the "
                         "database",
                         fn));
        break;
      }
    }
  }
  for (const auto& t : s.tables) {
    if (t.kind != "virtual") continue;
    std::string module = virtual_module(lower(t.sql));
    bool innocuous = std::find(kInnocuousModules.begin(), kInnocuousModules.end(), module) !=
                     kInnocuousModules.end();
    if (!innocuous) {
      flag("virtual table", t.name,
           fmt::format("uses module \"{}\", which may reach outside the database", module));
    }
  }
}

void too_wide(const core::DatabaseSummary& s, const std::string& entry, DatabaseCheck& out) {
  for (const auto& t : s.tables) {
    if (!core::too_wide_to_select(t)) continue;
    out.findings.push_back(Finding{
        "NOT_RESTORABLE_HERE", Severity::kWarning, fmt::format("{}:{}", entry, t.name),
        fmt::format("table {} in {} has {} columns, more than SQLite reads with its rowid in one "
                    "query: restorekit cannot diff or restore it (sqlite3 .restore can)",
                    t.name, entry, t.columns.size())});
  }
}

}  // namespace

DatabaseCheck check_database(const std::filesystem::path& staged, const std::string& entry,
                             bool sql_dump, const std::optional<std::string>& tenant_column) {
  DatabaseCheck out;
  out.result.entry = entry;
  out.result.kind = sql_dump ? core::DatabaseFormat::kSqlDump : core::DatabaseFormat::kSqlite;
  std::error_code ec;
  out.result.bytes = std::filesystem::file_size(staged, ec);
  std::filesystem::path db_path = staged;
  auto unreadable = [&](const Error& e) {
    out.findings.push_back(
        Finding{"DB_INTEGRITY", Severity::kError, entry,
                fmt::format("database {} cannot be read: {}", entry, e.message)});
    return out;
  };
  if (sql_dump) {
    db_path = staged.string() + ".sqlite";
    if (auto loaded = core::load_sql_dump(staged, db_path, entry); !loaded) {
      return unreadable(loaded.error());
    }
  }
  auto db = core::Database::open_untrusted(db_path);
  if (!db) return unreadable(db.error());
  // integrity_check is the slowest check: it runs on its own connection and thread while this
  // one describes the schema and checks foreign keys.
  DatabaseCheck integrity_part;
  std::thread integrity_thread([&] {
    if (auto own = core::Database::open_untrusted(db_path)) integrity(*own, entry, integrity_part);
  });
  auto summary = core::describe_database(*db);
  if (summary) {
    out.summary = std::move(*summary);
    out.result.tables = out.summary.tables.size();
    out.result.user_version = out.summary.user_version;
    foreign_keys(*db, entry, out);
    untrusted_schema(out.summary, entry, out);
    too_wide(out.summary, entry, out);
  }
  integrity_thread.join();
  out.result.integrity_ok = integrity_part.result.integrity_ok;
  out.findings.insert(out.findings.begin(), integrity_part.findings.begin(),
                      integrity_part.findings.end());
  if (!summary) return unreadable(summary.error());
  if (tenant_column) {
    if (auto t =
            core::count_tenants(*db, out.summary, core::TenantSpec{*tenant_column, {}, "id", {}})) {
      out.tenants = std::move(*t);
    }
  }
  if (sql_dump) std::filesystem::remove(db_path, ec);
  return out;
}

std::vector<Finding> check_document_references(const std::filesystem::path& staged,
                                               const std::string& entry,
                                               const std::vector<core::ColumnRef>& refs,
                                               const std::string& root,
                                               const core::EntryStore& files) {
  std::vector<Finding> out;
  auto db = core::Database::open_untrusted(staged);
  if (!db) return out;
  for (const auto& ref : refs) {
    auto st = db->prepare(
        fmt::format("SELECT rowid, CAST({} AS TEXT) FROM {} WHERE {} IS NOT NULL "
                    "AND {} != ''",
                    core::quote_identifier(ref.column), core::quote_identifier(ref.table),
                    core::quote_identifier(ref.column), core::quote_identifier(ref.column)));
    if (!st) continue;  // this database has no such table/column
    std::uint64_t missing = 0;
    std::string examples;
    (void)st->for_each([&]() -> Result<void> {
      std::string value(st->column_text(1));
      auto normalised = core::normalize_entry_path(root + value);
      if (normalised) {
        RK_TRY_ASSIGN(auto found, files.find(*normalised));
        if (found) return {};
      }
      if (++missing <= kMaxExampleRows) {
        examples +=
            fmt::format("{}rowid {} \"{}\"", missing == 1 ? "" : ", ", st->column_int(0), value);
      }
      return {};
    });
    if (missing == 0) continue;
    out.push_back(Finding{
        "DOC_MISSING", Severity::kError, fmt::format("{}:{}.{}", entry, ref.table, ref.column),
        fmt::format("{} row{} of {}.{} in {} name documents that are not in the backup under "
                    "\"{}\": {}{}",
                    missing, missing == 1 ? "" : "s", ref.table, ref.column, entry, root, examples,
                    missing > kMaxExampleRows ? ", …" : "")});
  }
  return out;
}

}  // namespace restorekit::verify::detail
