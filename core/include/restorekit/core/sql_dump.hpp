// SQL text dumps (what `sqlite3 app.db .dump` writes) found in foreign backups: recognising
// them and loading one into a scratch SQLite database so that it can be described like any
// other database.
//
// A dump is hostile input: it is executed statement by statement under an authorizer that
// allows only schema creation, inserts, transactions and harmless pragmas (no ATTACH, no
// writable_schema, no extension loading), with triggers disabled so nothing fires, in
// defensive mode, and with the scratch database's size bounded.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <restorekit/core/error.hpp>
#include <restorekit/core/finding.hpp>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

// True when an entry named `path` whose data starts with `head` looks like a SQL dump: a
// .sql name and a first statement such as PRAGMA, BEGIN, CREATE TABLE or INSERT.
// True when an entry's name says "database": *.db, *.db3, *.sqlite, *.sqlite3, *.s3db, *.sql
// (any case). Such an entry that is no SQLite database nor SQLite dump deserves a word.
bool named_like_database(std::string_view path);

// The SQL dialect of a dump restorekit does not read ("MySQL", "PostgreSQL", "SQL Server"),
// from its first bytes; nullopt when it shows none of their marks. Input: untrusted.
std::optional<std::string> foreign_dump_dialect(std::string_view head);

// The one rule that decides, from an entry's name and first bytes (up to 4 KiB), whether it is
// a database restorekit reads; used by every command that meets archive entries.
enum class DatabaseKind {
  kNone,         // an ordinary file
  kSqlite,       // starts with "SQLite format 3\0"
  kSqliteDump,   // *.sql whose first statement is SQLite's
  kForeignDump,  // a dump in another dialect (dialect says which)
  kNotDatabase,  // named like a database, but none of the above
};
struct DatabaseGuess {
  DatabaseKind kind = DatabaseKind::kNone;
  std::string dialect;  // kForeignDump: "MySQL", "PostgreSQL", "SQL Server"
};
DatabaseGuess guess_database(std::string_view path, std::span<const std::byte> head);

// The warning for an entry guessed kForeignDump or kNotDatabase (FOREIGN_SQL_DUMP,
// NOT_A_DATABASE); nullopt for the others.
std::optional<Finding> database_guess_finding(std::string_view path, const DatabaseGuess& guess);

bool looks_like_sql_dump(std::string_view path, std::string_view head);

// Executes the dump at `dump` into a new database file `dest`; messages call it `name`.
// @error kCorruptData naming the statement number when a statement fails or is refused,
//   kLimitExceeded when the result would pass `max_bytes`, kIo, kDatabase.
[[nodiscard]] Result<void> load_sql_dump(const std::filesystem::path& dump,
                                         const std::filesystem::path& dest, std::string_view name,
                                         std::uint64_t max_bytes = std::uint64_t{4} << 30);

}  // namespace restorekit::core

#pragma GCC visibility pop
