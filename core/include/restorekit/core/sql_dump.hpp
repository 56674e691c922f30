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
#include <string_view>

#include <restorekit/core/error.hpp>

namespace restorekit::core {

// True when an entry named `path` whose data starts with `head` looks like a SQL dump: a
// .sql name and a first statement such as PRAGMA, BEGIN, CREATE TABLE or INSERT.
bool looks_like_sql_dump(std::string_view path, std::string_view head);

// Executes the dump at `dump` into a new database file `dest`; messages call it `name`.
// @error kCorruptData naming the statement number when a statement fails or is refused,
//   kLimitExceeded when the result would pass `max_bytes`, kIo, kDatabase.
[[nodiscard]] Result<void> load_sql_dump(const std::filesystem::path& dump,
                                         const std::filesystem::path& dest, std::string_view name,
                                         std::uint64_t max_bytes = std::uint64_t{4} << 30);

}  // namespace restorekit::core
