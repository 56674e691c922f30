// The catalog's PostgreSQL store, through libpq. Statements keep the index's ?N parameters
// (rewritten to $N) and run with text parameters and results; integers travel as their
// decimal text. PostgreSQL's text holds only valid UTF-8 without NUL, archive names hold any
// bytes: such a value is stored as "\x01" + its bytes in hex (and so is a value that starts
// with \x01), and read back unescaped.
//
// libpq is loaded when the first PostgreSQL catalog is opened, not linked: it brings some 30
// libraries (Kerberos, LDAP, TLS) whose loading and relocation cost every restorekit command
// about 7 ms at start-up, and most never use a server.
#include <dlfcn.h>
#include <libpq-fe.h>

#include <charconv>
#include <cstdlib>
#include <mutex>
#include <vector>

#include <fmt/format.h>

#include <restorekit/core/safe_path.hpp>

#include "store.hpp"

namespace restorekit::catalog::detail {

namespace {

// The libpq functions the store calls, each with the declared type of the header's.
struct Libpq {
  decltype(&::PQclear) PQclear = nullptr;
  decltype(&::PQconnectdb) PQconnectdb = nullptr;
  decltype(&::PQconninfoFree) PQconninfoFree = nullptr;
  decltype(&::PQconninfoParse) PQconninfoParse = nullptr;
  decltype(&::PQerrorMessage) PQerrorMessage = nullptr;
  decltype(&::PQexec) PQexec = nullptr;
  decltype(&::PQexecParams) PQexecParams = nullptr;
  decltype(&::PQfinish) PQfinish = nullptr;
  decltype(&::PQfreemem) PQfreemem = nullptr;
  decltype(&::PQgetisnull) PQgetisnull = nullptr;
  decltype(&::PQgetlength) PQgetlength = nullptr;
  decltype(&::PQgetvalue) PQgetvalue = nullptr;
  decltype(&::PQntuples) PQntuples = nullptr;
  decltype(&::PQresultErrorMessage) PQresultErrorMessage = nullptr;
  decltype(&::PQresultStatus) PQresultStatus = nullptr;
  decltype(&::PQsetNoticeProcessor) PQsetNoticeProcessor = nullptr;
  decltype(&::PQstatus) PQstatus = nullptr;
};

template <typename Fn>
bool resolve(void* library, const char* name, Fn& fn) {
  fn = reinterpret_cast<Fn>(dlsym(library, name));
  return fn != nullptr;
}

// Loaded once per process and kept (libpq keeps state of its own: SSL, Kerberos). The system's
// libpq.so.5, or the file RESTOREKIT_LIBPQ names (a libpq installed elsewhere).
Result<const Libpq*> libpq() {
  static std::once_flag once;
  static Libpq pq;
  static std::string name = "libpq.so.5";
  static std::optional<std::string> why;
  std::call_once(once, [] {
    if (const char* env = std::getenv("RESTOREKIT_LIBPQ"); env && *env) name = env;
    void* library = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      why = dlerror();
      return;
    }
    bool all = resolve(library, "PQclear", pq.PQclear) &&
               resolve(library, "PQconnectdb", pq.PQconnectdb) &&
               resolve(library, "PQconninfoFree", pq.PQconninfoFree) &&
               resolve(library, "PQconninfoParse", pq.PQconninfoParse) &&
               resolve(library, "PQerrorMessage", pq.PQerrorMessage) &&
               resolve(library, "PQexec", pq.PQexec) &&
               resolve(library, "PQexecParams", pq.PQexecParams) &&
               resolve(library, "PQfinish", pq.PQfinish) &&
               resolve(library, "PQfreemem", pq.PQfreemem) &&
               resolve(library, "PQgetisnull", pq.PQgetisnull) &&
               resolve(library, "PQgetlength", pq.PQgetlength) &&
               resolve(library, "PQgetvalue", pq.PQgetvalue) &&
               resolve(library, "PQntuples", pq.PQntuples) &&
               resolve(library, "PQresultErrorMessage", pq.PQresultErrorMessage) &&
               resolve(library, "PQresultStatus", pq.PQresultStatus) &&
               resolve(library, "PQsetNoticeProcessor", pq.PQsetNoticeProcessor) &&
               resolve(library, "PQstatus", pq.PQstatus);
    if (!all) why = dlerror();
  });
  if (why) {
    return fail(ErrorCode::kDatabase,
                fmt::format("a PostgreSQL catalog needs libpq, which could not be loaded ({}): "
                            "install it (Debian: apt-get install libpq5) or name its file in "
                            "RESTOREKIT_LIBPQ",
                            *why),
                name);
  }
  return &pq;
}

// Only called once libpq() succeeded (a store exists only then).
const Libpq& pq() {
  static const Libpq& loaded = **libpq();
  return loaded;
}

constexpr char kEscaped = '\x01';

std::string stored_text(std::string_view value) {
  bool plain = core::is_valid_utf8(value) && value.find('\0') == std::string_view::npos &&
               (value.empty() || value.front() != kEscaped);
  if (plain) return std::string(value);
  std::string out(1, kEscaped);
  out.reserve(1 + 2 * value.size());
  for (unsigned char c : value) fmt::format_to(std::back_inserter(out), "{:02x}", c);
  return out;
}

std::string read_text(std::string_view stored) {
  if (stored.empty() || stored.front() != kEscaped) return std::string(stored);
  std::string out;
  for (std::size_t i = 1; i + 1 < stored.size(); i += 2) {
    unsigned value = 0;
    std::from_chars(stored.data() + i, stored.data() + i + 2, value, 16);
    out.push_back(static_cast<char>(value));
  }
  return out;
}

// ?N (outside quotes) becomes $N: the index's statements are written for SQLite.
std::string dollar_parameters(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  char quote = 0;
  for (char c : sql) {
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '?') {
      out.push_back('$');
      continue;
    }
    out.push_back(c);
  }
  return out;
}

struct ResultDeleter {
  void operator()(PGresult* r) const { pq().PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

class PgRow final : public Row {
 public:
  PgRow(const PGresult* r, int row) : r_(r), row_(row) {}
  [[nodiscard]] bool null(int column) const override {
    return pq().PQgetisnull(r_, row_, column) != 0;
  }
  [[nodiscard]] std::int64_t integer(int column) const override {
    const char* v = pq().PQgetvalue(r_, row_, column);
    std::int64_t out = 0;
    std::from_chars(v, v + pq().PQgetlength(r_, row_, column), out);
    return out;
  }
  [[nodiscard]] std::string text(int column) const override {
    return read_text(
        std::string_view(pq().PQgetvalue(r_, row_, column),
                         static_cast<std::size_t>(pq().PQgetlength(r_, row_, column))));
  }

 private:
  const PGresult* r_;
  int row_;
};

class PgStore;

class PgQuery final : public Query {
 public:
  PgQuery(PgStore& store, std::string sql) : store_(store), sql_(std::move(sql)) {}
  void bind(int index, std::int64_t value) override { slot(index) = std::to_string(value); }
  void bind(int index, std::string_view text) override { slot(index) = stored_text(text); }
  void bind_null(int index) override { slot(index).reset(); }
  Result<void> each(const RowFn& row) override;

 private:
  std::optional<std::string>& slot(int index) {
    auto i = static_cast<std::size_t>(index - 1);
    if (params_.size() <= i) params_.resize(i + 1);
    return params_[i];
  }
  PgStore& store_;
  std::string sql_;
  std::vector<std::optional<std::string>> params_;
};

class PgStore final : public Store {
 public:
  PgStore(PGconn* conn, std::string location) : conn_(conn), location_(std::move(location)) {}
  ~PgStore() override { pq().PQfinish(conn_); }
  PgStore(const PgStore&) = delete;
  PgStore& operator=(const PgStore&) = delete;

  [[nodiscard]] Dialect dialect() const override { return Dialect::kPostgres; }
  [[nodiscard]] const std::string& location() const override { return location_; }
  Result<void> exec(std::string_view sql) override {
    ResultPtr r(pq().PQexec(conn_, std::string(sql).c_str()));
    return check(r.get(), sql);
  }
  Result<std::unique_ptr<Query>> prepare(std::string_view sql) override {
    return std::unique_ptr<Query>(std::make_unique<PgQuery>(*this, dollar_parameters(sql)));
  }
  Result<void> begin() override { return exec("BEGIN"); }

  Result<void> run(const std::string& sql, const std::vector<std::optional<std::string>>& params,
                   const RowFn& row) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    ResultPtr r(pq().PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                  values.data(), nullptr, nullptr, 0));
    RK_TRY(check(r.get(), sql));
    if (!row) return {};
    int rows = pq().PQntuples(r.get());
    for (int i = 0; i < rows; ++i) RK_TRY(row(PgRow(r.get(), i)));
    return {};
  }

 private:
  Result<void> check(const PGresult* r, std::string_view sql) const {
    auto status = r ? pq().PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return {};
    std::string why = r ? pq().PQresultErrorMessage(r) : pq().PQerrorMessage(conn_);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    if (pq().PQstatus(conn_) == CONNECTION_BAD) {
      return fail(
          ErrorCode::kDatabase,
          fmt::format("the connection to the PostgreSQL catalog {} was lost: {}", location_, why),
          location_);
    }
    auto first_line = sql.substr(0, sql.find('\n'));
    return fail(ErrorCode::kDatabase,
                fmt::format("the PostgreSQL catalog {} refused a statement ({}): {}", location_,
                            first_line.substr(0, 80), why),
                location_);
  }

  PGconn* conn_;
  std::string location_;
};

Result<void> PgQuery::each(const RowFn& row) {
  auto r = store_.run(sql_, params_, row);
  params_.clear();
  return r;
}

}  // namespace

bool is_postgres_uri(std::string_view location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<Store>> postgres_store(const std::string& uri) {
  RK_TRY(libpq());
  char* parse_error = nullptr;
  PQconninfoOption* options = pq().PQconninfoParse(uri.c_str(), &parse_error);
  if (!options) {
    std::string why = parse_error ? parse_error : "out of memory";
    pq().PQfreemem(parse_error);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("the catalog URI {} cannot be read: {}", uri, why), uri);
  }
  bool password = false;
  for (auto* o = options; o->keyword; ++o) {
    if (std::string_view(o->keyword) == "password" && o->val && *o->val) password = true;
  }
  pq().PQconninfoFree(options);
  if (password) {
    return fail(ErrorCode::kInvalidArgument,
                "the catalog URI carries a password, which would show in the process list and "
                "shell history: remove it and put it in ~/.pgpass (or the file PGPASSFILE "
                "names) or a service file (PGSERVICE)",
                "catalog");
  }
  PGconn* conn = pq().PQconnectdb(uri.c_str());
  if (!conn || pq().PQstatus(conn) != CONNECTION_OK) {
    std::string why = conn ? pq().PQerrorMessage(conn) : "out of memory";
    pq().PQfinish(conn);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return fail(ErrorCode::kDatabase,
                fmt::format("cannot connect to the PostgreSQL catalog {}: {}", uri, why), uri);
  }
  // CREATE ... IF NOT EXISTS and the like send notices, which libpq prints by default.
  pq().PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  auto store = std::make_unique<PgStore>(conn, uri);
  RK_TRY(store->exec("SET client_encoding = 'UTF8'"));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace restorekit::catalog::detail
