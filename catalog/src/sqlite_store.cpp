// The catalog's SQLite store: core::Database under the Store interface.
#include "store.hpp"

namespace restorekit::catalog::detail {

namespace {

class SqliteRow final : public Row {
 public:
  explicit SqliteRow(const core::Statement& st) : st_(st) {}
  [[nodiscard]] bool null(int column) const override {
    return st_.column_type(column) == core::ValueType::kNull;
  }
  [[nodiscard]] std::int64_t integer(int column) const override { return st_.column_int(column); }
  [[nodiscard]] std::string text(int column) const override {
    return std::string(st_.column_text(column));
  }

 private:
  const core::Statement& st_;
};

class SqliteQuery final : public Query {
 public:
  explicit SqliteQuery(core::Statement st) : st_(std::move(st)) {}
  void bind(int index, std::int64_t value) override { st_.bind(index, value); }
  void bind(int index, std::string_view text) override { st_.bind(index, text); }
  void bind_null(int index) override { st_.bind_null(index); }
  Result<void> each(const RowFn& row) override {
    SqliteRow current(st_);
    for (;;) {
      auto more = st_.step();
      if (!more || !*more) {
        st_.reset();
        if (!more) return tl::unexpected(more.error());
        return {};
      }
      if (!row) continue;
      if (auto r = row(current); !r) {
        st_.reset();
        return r;
      }
    }
  }

 private:
  core::Statement st_;
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(core::Database db) : db_(std::move(db)), location_(db_.path()) {}
  [[nodiscard]] Dialect dialect() const override { return Dialect::kSqlite; }
  [[nodiscard]] const std::string& location() const override { return location_; }
  Result<void> exec(std::string_view sql) override { return db_.exec(sql); }
  Result<std::unique_ptr<Query>> prepare(std::string_view sql) override {
    RK_TRY_ASSIGN(auto st, db_.prepare(sql));
    return std::unique_ptr<Query>(std::make_unique<SqliteQuery>(std::move(st)));
  }
  Result<void> begin() override { return db_.exec("BEGIN IMMEDIATE"); }

 private:
  core::Database db_;
  std::string location_;
};

}  // namespace

std::unique_ptr<Store> sqlite_store(core::Database db) {
  return std::make_unique<SqliteStore>(std::move(db));
}

}  // namespace restorekit::catalog::detail
