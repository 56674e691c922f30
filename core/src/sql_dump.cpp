#include <restorekit/core/sql_dump.hpp>

#include "sqlite_internal.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>

#include <fmt/format.h>

#include <restorekit/core/safe_path.hpp>
#include <restorekit/core/sqlite.hpp>

namespace restorekit::core {

namespace {

// ASCII case-insensitive (SQLite's own table-driven compare: asked of every entry's name, where
// a locale-aware toupper() call per character showed in the profile of 100,000 entries).
bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         sqlite3_strnicmp(s.data(), prefix.data(), static_cast<int>(prefix.size())) == 0;
}

std::string_view skip_comments(std::string_view s) {
  for (;;) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    if (s.substr(0, 2) != "--") return s;
    auto nl = s.find('\n');
    if (nl == std::string_view::npos) return {};
    s.remove_prefix(nl + 1);
  }
}

int dump_authorizer(void*, int action, const char* arg1, const char*, const char*, const char*) {
  switch (action) {
    case SQLITE_CREATE_TABLE:
    case SQLITE_CREATE_INDEX:
    case SQLITE_CREATE_VIEW:
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
    case SQLITE_READ:
    case SQLITE_SELECT:
    case SQLITE_FUNCTION:
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
    case SQLITE_ANALYZE:
    case SQLITE_REINDEX: return SQLITE_OK;
    case SQLITE_PRAGMA: {
      std::string_view name = arg1 ? arg1 : "";
      return name == "foreign_keys" || name == "defer_foreign_keys" || name == "user_version" ||
                     name == "application_id" || name == "encoding"
                 ? SQLITE_OK
                 : SQLITE_DENY;
    }
    default: return SQLITE_DENY;  // ATTACH, DETACH, ALTER, DROP, virtual tables, ...
  }
}

constexpr int kMaxValueBytes = 64 << 20;              // one string/BLOB, and one statement's text
constexpr int kProgressEvery = 10000;                 // VM instructions between progress calls
constexpr int kMaxProgressCallsPerStatement = 10000;  // 100M instructions per statement

// Interrupts any single statement that runs far longer than loading values ever takes.
int statement_budget(void* calls) {
  return ++*static_cast<int*>(calls) > kMaxProgressCallsPerStatement ? 1 : 0;
}

Result<Database> open_scratch(const std::filesystem::path& dest, std::uint64_t max_bytes) {
  RK_TRY_ASSIGN(auto db, Database::open(dest, OpenMode::kCreate));
  int off = 0;
  sqlite3_db_config(raw_handle(db), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(raw_handle(db), SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &off);
  sqlite3_db_config(raw_handle(db), SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &off);
  sqlite3_limit(raw_handle(db), SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_limit(raw_handle(db), SQLITE_LIMIT_LENGTH, kMaxValueBytes);
  sqlite3_limit(raw_handle(db), SQLITE_LIMIT_SQL_LENGTH, kMaxValueBytes);
  RK_TRY(
      db.exec(fmt::format("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; "
                          "PRAGMA max_page_count={};",
                          std::max<std::uint64_t>(max_bytes / 4096, 16))));
  sqlite3_set_authorizer(raw_handle(db), &dump_authorizer, nullptr);
  return db;
}

}  // namespace

namespace {

std::string lowered(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// ASCII case-insensitive, without a lowered copy of the name (asked of every entry).
bool ends_with_ci(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && starts_with_ci(s.substr(s.size() - suffix.size()), suffix);
}

}  // namespace

bool named_like_database(std::string_view path) {
  for (std::string_view ext : {".db", ".db3", ".sqlite", ".sqlite3", ".s3db", ".sql"}) {
    if (ends_with_ci(path, ext)) return true;
  }
  return false;
}

std::optional<std::string> foreign_dump_dialect(std::string_view head) {
  auto lower = lowered(head);
  auto has = [&](std::string_view mark) { return lower.find(mark) != std::string::npos; };
  if (has("-- mysql dump") || has("-- mariadb dump") || has("/*!40") || has("engine=innodb") ||
      has("engine=myisam") || has("lock tables `")) {
    return std::string("MySQL");
  }
  if (has("-- postgresql database dump") || has("set statement_timeout") || has("from stdin;") ||
      has("pg_catalog.")) {
    return std::string("PostgreSQL");
  }
  if (has("set ansi_nulls") || has("set quoted_identifier") || has("\ngo\n") || has("\r\ngo\r\n")) {
    return std::string("SQL Server");
  }
  return std::nullopt;
}

DatabaseGuess guess_database(std::string_view path, std::span<const std::byte> head) {
  if (has_sqlite_magic(head)) return {DatabaseKind::kSqlite, {}};
  std::string_view text(reinterpret_cast<const char*>(head.data()), head.size());
  if (looks_like_sql_dump(path, text)) return {DatabaseKind::kSqliteDump, {}};
  if (!named_like_database(path)) return {};
  if (auto dialect = foreign_dump_dialect(text)) return {DatabaseKind::kForeignDump, *dialect};
  return {DatabaseKind::kNotDatabase, {}};
}

std::optional<Finding> database_guess_finding(std::string_view path, const DatabaseGuess& guess) {
  if (guess.kind == DatabaseKind::kForeignDump) {
    return Finding{"FOREIGN_SQL_DUMP", Severity::kWarning, std::string(path),
                   fmt::format("\"{}\" looks like a {} dump; restorekit reads SQLite databases "
                               "and SQLite dumps, so it was neither checked nor can it be restored",
                               path, guess.dialect)};
  }
  if (guess.kind == DatabaseKind::kNotDatabase) {
    return Finding{"NOT_A_DATABASE", Severity::kWarning, std::string(path),
                   fmt::format("\"{}\" is named like a database but is no SQLite database nor SQL "
                               "dump (it does not start with \"SQLite format 3\")",
                               path)};
  }
  return std::nullopt;
}

bool looks_like_sql_dump(std::string_view path, std::string_view head) {
  if (!ends_with_ci(path, ".sql")) return false;
  if (foreign_dump_dialect(head)) return false;  // another dialect: not loadable as SQLite
  std::string_view first = skip_comments(head);
  for (std::string_view start : {"PRAGMA", "BEGIN", "CREATE TABLE", "INSERT INTO"}) {
    if (starts_with_ci(first, start)) return true;
  }
  return false;
}

Result<void> load_sql_dump(const std::filesystem::path& dump, const std::filesystem::path& dest,
                           std::string_view name, std::uint64_t max_bytes) {
  std::ifstream in(dump, std::ios::binary);
  if (!in) return fail(ErrorCode::kIo, fmt::format("cannot read {}", dump.string()), dump.string());
  RK_TRY_ASSIGN(auto db, open_scratch(dest, max_bytes));
  int progress_calls = 0;
  sqlite3_progress_handler(raw_handle(db), kProgressEvery, &statement_budget, &progress_calls);
  std::string statement;
  std::string line;
  std::uint64_t number = 0;
  while (std::getline(in, line)) {
    statement += line;
    statement += '\n';
    if (statement.size() > static_cast<std::size_t>(kMaxValueBytes)) {
      return fail(ErrorCode::kLimitExceeded,
                  fmt::format("SQL dump {}: statement {} is longer than {} bytes", name, number + 1,
                              kMaxValueBytes),
                  std::string(name));
    }
    if (line.find(';') == std::string::npos || !sqlite3_complete(statement.c_str())) continue;
    ++number;
    progress_calls = 0;
    auto r = db.exec(statement);
    if (!r && r.error().message.find("full") != std::string::npos) {
      return fail(
          ErrorCode::kLimitExceeded,
          fmt::format("SQL dump {} expands past {} bytes, the configured limit", name, max_bytes),
          std::string(name));
    }
    if (!r) {
      return fail(ErrorCode::kCorruptData,
                  fmt::format("SQL dump {}: statement {} failed or was refused ({})", name, number,
                              sqlite3_errmsg(raw_handle(db))),
                  std::string(name));
    }
    statement.clear();
  }
  return {};
}

}  // namespace restorekit::core
