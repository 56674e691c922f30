// The catalog's storage: one SQL connection, to a SQLite file (the default, one machine) or a
// PostgreSQL server (a team). The index writes one SQL for both: ?N parameters, upserts with
// ON CONFLICT, RETURNING, integers and text only; the few places where the dialects differ
// (the schema, glob matching) ask dialect().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <restorekit/core/error.hpp>
#include <restorekit/core/sqlite.hpp>

namespace restorekit::catalog::detail {

enum class Dialect { kSqlite, kPostgres };

// The current row of a query. Text values are the bytes that were stored, whatever the server
// can hold (the PostgreSQL store escapes what is not UTF-8 and gives it back unescaped).
class Row {
 public:
  virtual ~Row() = default;
  [[nodiscard]] virtual bool null(int column) const = 0;
  [[nodiscard]] virtual std::int64_t integer(int column) const = 0;
  [[nodiscard]] virtual std::string text(int column) const = 0;
};

using RowFn = std::function<Result<void>(const Row&)>;

// A prepared statement: bind every parameter (1-based), then run it; the bindings are
// consumed by the run.
class Query {
 public:
  virtual ~Query() = default;
  virtual void bind(int index, std::int64_t value) = 0;
  virtual void bind(int index, std::string_view text) = 0;
  virtual void bind_null(int index) = 0;
  void bind(int index, const std::optional<std::int64_t>& value) {
    if (value) {
      bind(index, *value);
    } else {
      bind_null(index);
    }
  }
  // Runs the statement, each result row to `row` (may be empty).
  [[nodiscard]] virtual Result<void> each(const RowFn& row) = 0;
  [[nodiscard]] Result<void> run() { return each({}); }
};

class Store {
 public:
  virtual ~Store() = default;
  [[nodiscard]] virtual Dialect dialect() const = 0;
  // Where the store is, for messages: the file, or the server without credentials.
  [[nodiscard]] virtual const std::string& location() const = 0;
  // Statements without parameters, separated by ';'.
  [[nodiscard]] virtual Result<void> exec(std::string_view sql) = 0;
  [[nodiscard]] virtual Result<std::unique_ptr<Query>> prepare(std::string_view sql) = 0;
  // A write transaction: writers queue behind each other (SQLite: BEGIN IMMEDIATE).
  [[nodiscard]] virtual Result<void> begin() = 0;
  [[nodiscard]] Result<void> commit() { return exec("COMMIT"); }
  void rollback() { (void)exec("ROLLBACK"); }
};

// The first column of the first row `sql` returns, if there is one.
inline Result<std::optional<std::int64_t>> query_int(Store& store, std::string_view sql) {
  RK_TRY_ASSIGN(auto q, store.prepare(sql));
  std::optional<std::int64_t> out;
  RK_TRY(q->each([&](const Row& r) -> Result<void> {
    if (!out && !r.null(0)) out = r.integer(0);
    return {};
  }));
  return out;
}

inline std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The store over an open SQLite catalog (the index keeps its `name_key` SQL function).
std::unique_ptr<Store> sqlite_store(core::Database db);

// The store on the PostgreSQL server a libpq connection string or URI names
// (postgresql://host/dbname?...); the password comes from libpq's usual places (PGPASSFILE,
// ~/.pgpass, a service file, PGPASSWORD), never from the URI. @error kInvalidArgument (a
// password in the URI, a malformed URI), kDatabase (the server cannot be reached or refuses).
Result<std::unique_ptr<Store>> postgres_store(const std::string& uri);

// Whether `location` names a PostgreSQL catalog rather than a file.
bool is_postgres_uri(std::string_view location);

}  // namespace restorekit::catalog::detail
