#include <restorekit/core/sqlite.hpp>

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include "full_disk.hpp"
#include "sqlite_internal.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include <restorekit/core/fs.hpp>
#include <restorekit/core/names.hpp>

namespace restorekit::core {

namespace {

constexpr int kBusyTimeoutMs = 5000;
constexpr int kCancelCheckSteps = 10000;  // VM steps between checks of the cancel token

// file: URI for a path: '%', '?', '#' and non-ASCII bytes percent-encoded.
std::string file_uri(const std::string& path, std::string_view query) {
  std::string uri = "file:";
  for (unsigned char c : path) {
    if (c == '%' || c == '?' || c == '#' || c < 0x21 || c >= 0x7f) {
      uri += fmt::format("%{:02X}", c);
    } else {
      uri += static_cast<char>(c);
    }
  }
  if (!query.empty()) uri += fmt::format("?{}", query);
  return uri;
}

// The process-wide token: every token ever set is kept (in a deque, whose elements do not
// move), so that a progress handler that loaded the pointer to an older one reads a live
// object, and reading it takes no lock.
std::mutex query_cancel_mutex;
std::deque<CancelToken>& query_cancels() {
  static std::deque<CancelToken> tokens(1);
  return tokens;
}
std::atomic<const CancelToken*> query_cancel{&query_cancels().front()};

bool process_cancelled() {
  return query_cancel.load(std::memory_order_acquire)->cancelled();
}

std::mutex open_observer_mutex;
std::function<void(std::string_view)>& open_observer() {
  static std::function<void(std::string_view)> observer;
  return observer;
}

void observe_open(const std::string& name) {
  std::lock_guard lock(open_observer_mutex);
  if (open_observer()) open_observer()(name);
}

}  // namespace

struct Database::Watch {
  CancelToken operation;  // stop_when's; never tripped until then

  [[nodiscard]] bool cancelled() const { return process_cancelled() || operation.cancelled(); }
  static int check(void* watch) { return static_cast<Watch*>(watch)->cancelled() ? 1 : 0; }
};

namespace {

Result<sqlite3*> open_raw(const std::string& target, const std::string& name, int flags) {
  observe_open(name);
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(target.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return fail(ErrorCode::kDatabase, fmt::format("cannot open database {}: {}", name, msg), name);
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  return db;
}

const char* kind_of(std::filesystem::file_type type) {
  using std::filesystem::file_type;
  switch (type) {
    case file_type::fifo: return "a FIFO";
    case file_type::character: return "a character device";
    case file_type::block: return "a block device";
    case file_type::socket: return "a socket";
    default: return "not a file";
  }
}

Result<void> not_a_folder(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) return {};
  return fail(ErrorCode::kInvalidArgument,
              fmt::format("{} is a folder; give the database file itself (such as {})",
                          path.string(), (path / "app.sqlite").string()),
              path.string());
}

Result<void> require_file(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  RK_TRY(not_a_folder(path));
  auto status = fs::status(path, ec);
  if (!fs::exists(status)) {
    return fail(ErrorCode::kNotFound,
                fmt::format("database {} does not exist; check the path", path.string()),
                path.string());
  }
  // A FIFO would block SQLite's open() for ever (it retries on EINTR, so not even a signal
  // ends it), and a device reads as an empty database: neither is one.
  if (!fs::is_regular_file(status)) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("{} is not a regular file ({}); give the database file itself",
                            path.string(), kind_of(status.type())),
                path.string());
  }
  return {};
}

}  // namespace

Database::Database(sqlite3* db, std::string path)
    : db_(db), watch_(std::make_unique<Watch>()), path_(std::move(path)) {
  sqlite3_progress_handler(db_, kCancelCheckSteps, &Watch::check, watch_.get());
}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      watch_(std::move(other.watch_)),
      path_(std::move(other.path_)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    watch_ = std::move(other.watch_);
    path_ = std::move(other.path_);
  }
  return *this;
}

Database::~Database() {
  sqlite3_close_v2(db_);
}

Result<Database> Database::open(const std::filesystem::path& path, OpenMode mode) {
  int flags = SQLITE_OPEN_NOMUTEX;
  RK_TRY(mode == OpenMode::kCreate ? not_a_folder(path) : require_file(path));
  switch (mode) {
    case OpenMode::kReadOnly: flags |= SQLITE_OPEN_READONLY; break;
    case OpenMode::kReadWrite: flags |= SQLITE_OPEN_READWRITE; break;
    case OpenMode::kCreate: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE; break;
  }
  RK_TRY_ASSIGN(sqlite3 * db, open_raw(path.string(), path.string(), flags));
  return Database(db, path.string());
}

Result<Database> Database::open_untrusted(const std::filesystem::path& path) {
  RK_TRY(require_file(path));
  std::string name = path.string();
  int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
  RK_TRY_ASSIGN(sqlite3 * raw, open_raw(file_uri(name, "immutable=1"), name, flags));
  Database db(raw, name);
  db.apply_defences();
  sqlite3_limit(raw, SQLITE_LIMIT_ATTACHED, 0);
  RK_TRY(db.exec("PRAGMA cell_size_check=ON; PRAGMA mmap_size=0;"));
  // Touch the schema now so that "not a database" is reported at open, naming the file.
  if (auto r = db.query_int("SELECT count(*) FROM sqlite_schema"); !r) {
    return fail(ErrorCode::kDatabase,
                fmt::format("{} is not a readable SQLite database: {}", name, r.error().message),
                name);
  }
  return db;
}

Result<void> Database::use_as_scratch(int cache_mib) {
  return exec(
      fmt::format("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE; "
                  "PRAGMA temp_store=FILE; PRAGMA cache_size=-{};",
                  cache_mib * 1024));
}

Result<Database> Database::open_memory() {
  RK_TRY_ASSIGN(sqlite3 * db,
                open_raw(":memory:", ":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
  return Database(db, ":memory:");
}

Result<Database> Database::open_scratch() {
  // An empty name is SQLite's private temporary database, removed when the connection closes.
  RK_TRY_ASSIGN(
      sqlite3 * db,
      open_raw("", "(scratch)", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX));
  return Database(db, "(scratch)");
}

sqlite3* raw_handle(const Database& db) {
  return db.db_;
}

void Database::apply_defences() {
  int off = 0;
  sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &off);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_ENABLE_VIEW, 0, &off);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, &off);
}

void Database::set_busy_timeout(int milliseconds) {
  sqlite3_busy_timeout(db_, milliseconds);
}

namespace {

// name_key(x) as SQL, so that patterns and stored names compare under the one name rule.
void sql_name_key(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const auto* text = sqlite3_value_text(argv[0]);
  if (!text) return sqlite3_result_null(ctx);
  auto key = name_key(std::string_view(reinterpret_cast<const char*>(text),
                                       static_cast<std::size_t>(sqlite3_value_bytes(argv[0]))));
  sqlite3_result_text(ctx, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
}

}  // namespace

Result<void> Database::add_name_key_function() {
  if (sqlite3_create_function(db_, "name_key", 1,
                              SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
                              &sql_name_key, nullptr, nullptr) != SQLITE_OK) {
    return tl::unexpected(error("registering name_key()"));
  }
  return {};
}

Result<void> copy_pages(Database& src, Database& dest, const PageCopyOptions& o) {
  sqlite3_backup* b = sqlite3_backup_init(raw_handle(dest), "main", raw_handle(src), "main");
  if (!b) return tl::unexpected(dest.error("starting the page copy"));
  auto abandon = [&](Error e) -> Result<void> {
    sqlite3_backup_finish(b);  // rolls the destination back
    return tl::unexpected(std::move(e));
  };
  // A step of 0 pages takes the locks and counts the pages, so that the last step is known.
  int rc = sqlite3_backup_step(b, 0);
  bool checked = !o.before_commit;
  while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    if (rc != SQLITE_OK) sqlite3_sleep(20);
    if (o.cancel.cancelled()) {
      return abandon(Error(ErrorCode::kCancelled,
                           fmt::format("copying {} into {} was cancelled; {} is unchanged",
                                       src.path(), dest.path(), dest.path())));
    }
    if (!checked && sqlite3_backup_remaining(b) <= o.chunk_pages) {
      checked = true;
      if (auto ok = o.before_commit(); !ok) return abandon(ok.error());
    }
    rc = sqlite3_backup_step(b, o.chunk_pages);
    if (rc == SQLITE_OK && o.on_chunk) {
      int total = sqlite3_backup_pagecount(b);
      o.on_chunk(total - sqlite3_backup_remaining(b), total);
    }
  }
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) {
    return fail(
        ErrorCode::kDatabase,
        fmt::format("copying {} into {} failed: {}", src.path(), dest.path(), sqlite3_errstr(rc)),
        dest.path());
  }
  return {};
}

void set_open_observer(std::function<void(std::string_view name)> observer) {
  std::lock_guard lock(open_observer_mutex);
  open_observer() = std::move(observer);
}

void set_query_cancel(const CancelToken& token) {
  std::lock_guard lock(query_cancel_mutex);
  query_cancel.store(&query_cancels().emplace_back(token), std::memory_order_release);
}

void Database::stop_when(const CancelToken& token) {
  watch_->operation = token;
}

Result<void> Database::refuse_if_cancelled() const {
  if (!watch_->cancelled()) return {};
  return fail(ErrorCode::kCancelled, fmt::format("a query on database {} was cancelled", path_),
              path_);
}

Error Database::error(std::string_view what) const {
  if (sqlite3_errcode(db_) == SQLITE_INTERRUPT) {
    return Error(ErrorCode::kCancelled, fmt::format("{} on database {} was cancelled", what, path_),
                 path_);
  }
  return Error(ErrorCode::kDatabase,
               fmt::format("{} failed on database {}: {}", what, path_, sqlite3_errmsg(db_)),
               path_);
}

Result<void> Database::exec(std::string_view sql) {
  RK_TRY(refuse_if_cancelled());
  std::string text(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    auto code =
        sqlite3_errcode(db_) == SQLITE_INTERRUPT ? ErrorCode::kCancelled : ErrorCode::kDatabase;
    return fail(code, fmt::format("database {}: {}", path_, msg), path_);
  }
  return {};
}

Result<Statement> Database::prepare(std::string_view sql) {
  // Thousands of short statements (a schema of 20,000 tables) never reach the progress
  // handler's step count: a tripped token also stops the next statement before it starts.
  RK_TRY(refuse_if_cancelled());
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
      SQLITE_OK) {
    return tl::unexpected(error("preparing a query"));
  }
  return Statement(stmt, this);
}

Result<Statement> Database::prepare_single(std::string_view sql) {
  RK_TRY(refuse_if_cancelled());
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, &tail) !=
      SQLITE_OK) {
    return tl::unexpected(error("preparing a query"));
  }
  Statement st(stmt, this);
  std::string_view rest(tail, static_cast<std::size_t>(sql.data() + sql.size() - tail));
  if (!stmt || rest.find_first_not_of(" \t\r\n") != std::string_view::npos) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("the SQL holds more than one statement (\"{}\" follows the first)",
                            rest.substr(0, 40)));
  }
  return st;
}

Result<std::int64_t> Database::query_int(std::string_view sql) {
  RK_TRY_ASSIGN(auto stmt, prepare(sql));
  RK_TRY_ASSIGN(bool row, stmt.step());
  if (!row) return fail(ErrorCode::kDatabase, fmt::format("{} returned no row", sql), path_);
  return stmt.column_int(0);
}

std::int64_t Database::changes() const {
  return sqlite3_changes64(db_);
}

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), db_(other.db_) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    db_ = other.db_;
  }
  return *this;
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

Result<bool> Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return tl::unexpected(db_->error("a query"));
}

Result<void> Statement::run() {
  auto r = step();
  reset();
  if (!r) return tl::unexpected(r.error());
  return {};
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
}
void Statement::bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
}
void Statement::bind(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}
void Statement::bind_view(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
}
void Statement::bind_blob(int index, std::span<const std::byte> blob) {
  sqlite3_bind_blob64(stmt_, index, blob.data(), blob.size(), SQLITE_TRANSIENT);
}
void Statement::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
}

int Statement::column_count() const {
  return sqlite3_column_count(stmt_);
}
std::string_view Statement::column_name(int index) const {
  const char* n = sqlite3_column_name(stmt_, index);
  return n ? n : "";
}
ValueType Statement::column_type(int index) const {
  switch (sqlite3_column_type(stmt_, index)) {
    case SQLITE_INTEGER: return ValueType::kInteger;
    case SQLITE_FLOAT: return ValueType::kReal;
    case SQLITE_TEXT: return ValueType::kText;
    case SQLITE_BLOB: return ValueType::kBlob;
    default: return ValueType::kNull;
  }
}
std::int64_t Statement::column_int(int index) const {
  return sqlite3_column_int64(stmt_, index);
}
double Statement::column_double(int index) const {
  return sqlite3_column_double(stmt_, index);
}
std::string_view Statement::column_text(int index) const {
  const auto* text = sqlite3_column_text(stmt_, index);
  int n = sqlite3_column_bytes(stmt_, index);
  return text ? std::string_view(reinterpret_cast<const char*>(text), static_cast<std::size_t>(n))
              : std::string_view{};
}
std::span<const std::byte> Statement::column_blob(int index) const {
  const void* blob = sqlite3_column_blob(stmt_, index);
  int n = sqlite3_column_bytes(stmt_, index);
  return blob ? std::span<const std::byte>(static_cast<const std::byte*>(blob),
                                           static_cast<std::size_t>(n))
              : std::span<const std::byte>{};
}

// sqlite3_column_value's value is "unprotected" (no mutex held), which is safe here: statements
// are used by one thread at a time (connections are opened without SQLite's mutex).
Cell Statement::cell(int index) const {
  sqlite3_value* v = sqlite3_column_value(stmt_, index);
  Cell c;
  auto bytes = [&](const void* p) {
    int n = sqlite3_value_bytes(v);  // after the pointer: the text may be converted first
    if (p) c.bytes = {static_cast<const std::byte*>(p), static_cast<std::size_t>(n)};
  };
  switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
      c.type = ValueType::kInteger;
      c.integer = sqlite3_value_int64(v);
      break;
    case SQLITE_FLOAT:
      c.type = ValueType::kReal;
      c.real = sqlite3_value_double(v);
      break;
    case SQLITE_TEXT:
      c.type = ValueType::kText;
      bytes(sqlite3_value_text(v));
      break;
    case SQLITE_BLOB:
      c.type = ValueType::kBlob;
      bytes(sqlite3_value_blob(v));
      break;
    default: break;
  }
  return c;
}

const TableInfo* find_table(const DatabaseSummary& s, std::string_view name) {
  auto it = std::find_if(s.tables.begin(), s.tables.end(),
                         [&](const TableInfo& t) { return t.name == name; });
  return it == s.tables.end() ? nullptr : &*it;
}

bool has_column(const TableInfo& t, std::string_view name) {
  return std::any_of(t.columns.begin(), t.columns.end(),
                     [&](const ColumnInfo& c) { return c.name == name; });
}

void bind_typed(Statement& st, int index, std::string_view text) {
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec == std::errc() && end == text.data() + text.size() && fmt::format("{}", n) == text) {
    st.bind(index, n);
  } else {
    st.bind(index, text);
  }
}

std::string quote_identifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"') out += '"';
  }
  out += '"';
  return out;
}

bool has_sqlite_magic(std::span<const std::byte> head) {
  static constexpr char kMagic[] = "SQLite format 3";  // 16 bytes with its NUL
  return head.size() >= sizeof(kMagic) && std::memcmp(head.data(), kMagic, sizeof(kMagic)) == 0;
}

bool has_sqlite_magic(const std::filesystem::path& path) {
  std::array<std::byte, 16> head{};
  UniqueFd fd = open_for_reading(path);  // a FIFO reads as empty: no database
  if (!fd) return false;
  ssize_t n = ::pread(fd.get(), head.data(), head.size(), 0);
  return n == static_cast<ssize_t>(head.size()) && has_sqlite_magic(std::span(head));
}

Result<void> snapshot_database(const std::filesystem::path& source,
                               const std::filesystem::path& dest) {
  RK_TRY_ASSIGN(auto src, Database::open(source, OpenMode::kReadOnly));
  std::error_code ec;
  if (std::filesystem::exists(dest, ec)) {
    return fail(ErrorCode::kIo, fmt::format("{} already exists; not overwriting", dest.string()),
                dest.string());
  }
  RK_TRY_ASSIGN(auto dst, Database::open(dest, OpenMode::kCreate));
  sqlite3_backup* backup = sqlite3_backup_init(raw_handle(dst), "main", raw_handle(src), "main");
  if (!backup) return tl::unexpected(dst.error("starting the snapshot"));
  // One step over all pages: a single read transaction, hence a consistent snapshot.
  int rc = SQLITE_OK;
  do {
    rc = sqlite3_backup_step(backup, -1);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(20);
  } while (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_OK);
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    return fail(
        ErrorCode::kDatabase,
        fmt::format("snapshot of {} into {} failed: {}{}", source.string(), dest.string(),
                    sqlite3_errstr(rc), rc == SQLITE_FULL ? detail::free_space_hint(dest) : ""),
        source.string());
  }
  return {};
}

}  // namespace restorekit::core
