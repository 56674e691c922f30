// SQLite access for restorekit: RAII connections and statements, the untrusted open used for
// every database that comes out of a backup, the online-backup snapshot, and schema
// introspection (tables, columns, keys, WITHOUT ROWID, foreign keys, row counts, tenants).
//
// sqlite3.h stays out of this header: `sqlite3` and `sqlite3_stmt` are only forward-declared,
// and the accessors cover what restorekit's modules need. Thread safety: a Database and its
// Statements belong to one thread at a time (SQLite's multi-thread mode).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <restorekit/core/error.hpp>
#include <restorekit/core/progress.hpp>

struct sqlite3;
struct sqlite3_stmt;

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

enum class OpenMode { kReadOnly, kReadWrite, kCreate };

class Statement;

class Database {
 public:
  // Opens a trusted database (the live one, or one restorekit writes). busy_timeout 5 s.
  // @error kNotFound (kReadOnly/kReadWrite and no such file), kDatabase.
  [[nodiscard]] static Result<Database> open(const std::filesystem::path& path, OpenMode mode);

  // Opens a database that came out of a backup, as hostile input: read-only and immutable (no
  // locks, no -wal/-journal files are read or created), defensive mode, trusted_schema=OFF,
  // triggers and views disabled, no extension loading, no ATTACH, cell size checks on.
  // @error kNotFound, kDatabase (not a database, or SQLite refused it).
  [[nodiscard]] static Result<Database> open_untrusted(const std::filesystem::path& path);

  // A private in-memory database (tests, scratch work).
  [[nodiscard]] static Result<Database> open_memory();
  // A private database on disk, in SQLite's temp folder ($SQLITE_TMPDIR, else $TMPDIR, else
  // /var/tmp or /tmp), deleted when closed: scratch work too large for memory. Opened without
  // SQLite's mutex: the owner serializes its use (as open_untrusted's connections are used).
  // @error kDatabase.
  [[nodiscard]] static Result<Database> open_scratch();

  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  // Runs one or more statements that return no rows. @error kDatabase with SQLite's message.
  [[nodiscard]] Result<void> exec(std::string_view sql);
  // @error kDatabase when the SQL does not compile.
  [[nodiscard]] Result<Statement> prepare(std::string_view sql);
  // One statement and nothing after it but spaces: SQL that holds a caller's text (a
  // condition) must not smuggle a second statement in. @error kDatabase (does not compile),
  // kInvalidArgument (more than one statement).
  [[nodiscard]] Result<Statement> prepare_single(std::string_view sql);
  // The single integer a query returns (e.g. "PRAGMA user_version"). @error kDatabase.
  [[nodiscard]] Result<std::int64_t> query_int(std::string_view sql);
  // Sets this connection up for a private working file that only it reads and that is thrown
  // away (a listing kept on disk so that memory stays bounded): no journal, no syncs, an
  // exclusive lock, sorts spilling to temporary files, and `cache_mib` MiB of page cache.
  // @error kDatabase.
  [[nodiscard]] Result<void> use_as_scratch(int cache_mib);

  [[nodiscard]] const std::string& path() const { return path_; }

  // Stops this connection's running and later statements with kCancelled once `token` trips
  // (besides the process-wide token of set_query_cancel): an operation hands its own token to
  // the connections it opens, so that cancelling it also ends a long integrity_check or sort.
  // Call before using the connection from other threads.
  void stop_when(const CancelToken& token);

  // The defences of open_untrusted() for a connection that must write (a staged copy being
  // rebuilt, a selective restore's target): defensive mode, trusted_schema=OFF, triggers, views
  // and extension loading off.
  void apply_defences();
  // How long a statement waits for another connection's lock before SQLITE_BUSY.
  void set_busy_timeout(int milliseconds);
  // Registers name_key(text) as a deterministic SQL function (the one name rule, names.hpp),
  // so that stored names and patterns compare under it in SQL. @error kDatabase.
  [[nodiscard]] Result<void> add_name_key_function();
  [[nodiscard]] std::int64_t changes() const;

  // A kDatabase error carrying SQLite's current message, naming this database.
  [[nodiscard]] Error error(std::string_view what) const;

 private:
  struct Watch;  // what the connection's progress handler checks (sqlite.cpp)
  Database(sqlite3* db, std::string path);
  [[nodiscard]] Result<void> refuse_if_cancelled() const;
  // The raw connection stays inside core (sqlite_internal.hpp).
  friend sqlite3* raw_handle(const Database& db);
  sqlite3* db_ = nullptr;
  std::unique_ptr<Watch> watch_;  // on the heap: SQLite holds its address
  std::string path_;
};

enum class ValueType { kInteger, kReal, kText, kBlob, kNull };

// One column of the current row with its type, read in one call (Statement::cell): a row
// compared column by column (diff) pays SQLite's per-call cost once per column, not per
// accessor. `bytes` (text as UTF-8, or a blob) stays valid until the statement steps or resets.
struct Cell {
  ValueType type = ValueType::kNull;
  std::int64_t integer = 0;
  double real = 0;
  std::span<const std::byte> bytes;
  [[nodiscard]] std::string_view text() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
};

class Statement {
 public:
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // @return true when a row is available, false when done. @error kDatabase.
  [[nodiscard]] Result<bool> step();
  void reset();
  // Runs a statement that returns no rows, then resets it (bindings cleared) for reuse.
  // @error kDatabase.
  [[nodiscard]] Result<void> run();
  // Steps to the end, calling `row()` (which returns Result<void>) for each row.
  // @error kDatabase, or the first error `row` returns.
  template <typename RowFn>
  [[nodiscard]] Result<void> for_each(RowFn&& row) {
    for (;;) {
      RK_TRY_ASSIGN(bool more, step());
      if (!more) return {};
      RK_TRY(row());
    }
  }

  // Parameters are 1-based, as in SQLite.
  void bind(int index, std::int64_t value);
  void bind(int index, double value);
  void bind(int index, std::string_view text);
  // Text the caller keeps valid and unchanged until the statement is reset (run() resets it):
  // SQLite reads it where it is instead of copying it first.
  void bind_view(int index, std::string_view text);
  void bind_blob(int index, std::span<const std::byte> blob);
  void bind_null(int index);

  // Columns are 0-based. Views stay valid until the next step()/reset().
  [[nodiscard]] int column_count() const;
  [[nodiscard]] std::string_view column_name(int index) const;
  [[nodiscard]] ValueType column_type(int index) const;
  [[nodiscard]] std::int64_t column_int(int index) const;
  [[nodiscard]] double column_double(int index) const;
  [[nodiscard]] std::string_view column_text(int index) const;
  [[nodiscard]] std::span<const std::byte> column_blob(int index) const;
  [[nodiscard]] Cell cell(int index) const;

 private:
  friend class Database;
  Statement(sqlite3_stmt* stmt, const Database* db) : stmt_(stmt), db_(db) {}
  sqlite3_stmt* stmt_ = nullptr;
  const Database* db_ = nullptr;
};

// A token that every connection restorekit opens checks while SQLite works (a progress
// handler every few thousand VM steps): once tripped, running and later queries stop with
// kCancelled, so a long integrity_check, diff or content hash ends promptly; once tripped, no
// new statement starts either. The command line sets its Ctrl-C token here. Default: one never
// tripped. Safe to call while queries run (they see the new token from their next check); each
// call keeps a copy of its token for the life of the process (a few bytes). Restore's apply,
// rollback and recover must run every statement past their commit point, so while they run use
// a token here that is never tripped and stop them through ApplyOptions::cancel. An
// application's per-operation tokens (VerifyOptions::cancel and the like) reach the queries of
// that operation without this.
void set_query_cancel(const CancelToken& token);

// Called with the name of every database restorekit opens, from the opening thread (tests count
// the sessions a command holds). Set it before work starts; empty: none.
void set_open_observer(std::function<void(std::string_view name)> observer);

// Quotes an identifier for SQL: "name" with embedded quotes doubled. Safe for hostile names.
std::string quote_identifier(std::string_view name);

// True when `head` starts with the SQLite file magic "SQLite format 3\0".
bool has_sqlite_magic(std::span<const std::byte> head);
// True when the file at `path` starts with that magic (false when it cannot be read).
bool has_sqlite_magic(const std::filesystem::path& path);

struct PageCopyOptions {
  // After each chunk of pages (progress, test hooks).
  std::function<void(int done, int total)> on_chunk;
  CancelToken cancel;  // honoured between chunks: `dest` is rolled back
  int chunk_pages = 4096;
  // Runs before the step that copies the last pages (which also commits); its error rolls
  // `dest` back.
  std::function<Result<void>()> before_commit;
};

// Copies every page of `src` into `dest` through SQLite's backup API, in chunks: `dest`
// becomes a copy of `src` in one commit, or is left as it was.
// @error kDatabase, kCancelled, or before_commit's error.
[[nodiscard]] Result<void> copy_pages(Database& src, Database& dest,
                                      const PageCopyOptions& options = {});

// Copies a consistent snapshot of `source` into a new file `dest` through SQLite's online
// backup API (one read transaction: writers in other connections may go on; the copy holds a
// state they committed). `dest` must not exist. @error kNotFound, kDatabase, kIo.
[[nodiscard]] Result<void> snapshot_database(const std::filesystem::path& source,
                                             const std::filesystem::path& dest);

struct ColumnInfo {
  std::string name;
  std::string type;  // declared type, as written
  bool not_null = false;
  int pk_position = 0;               // 1-based position in the primary key; 0 when not part of it
  std::string collation = "BINARY";  // of a primary-key column (from its index); else BINARY
};

struct ForeignKey {
  std::string table;  // the referenced table
  std::vector<std::string> from;
  std::vector<std::string> to;  // empty entries mean "the referenced table's primary key"
};

struct TableInfo {
  std::string name;
  std::string kind = "table";  // "table", "virtual" or "shadow"
  bool without_rowid = false;
  std::vector<ColumnInfo> columns;
  std::vector<std::string> primary_key;  // declared key columns in key order; empty if none
  std::vector<ForeignKey> foreign_keys;
  std::optional<std::uint64_t> rows;  // unset when not counted (virtual tables)
  std::string sql;                    // CREATE statement
};

// True when `column` is the table's rowid under another name: a rowid table whose single-column
// primary key is declared exactly INTEGER (any case). Such a column is never NULL and its order
// is the table's own.
bool is_rowid_alias(const TableInfo& table, std::string_view column);

// True when SQLite cannot SELECT the table's rowid with all its columns in one query (its
// compiled column limit, 2000 in Debian): diff, content hash and a selective restore need that.
bool too_wide_to_select(const TableInfo& table);

struct SchemaObject {
  std::string type;  // "index", "trigger", "view"
  std::string name;
  std::string table;  // tbl_name
  std::string sql;
};

struct DatabaseSummary {
  std::int64_t user_version = 0;
  std::int64_t page_size = 0;
  std::int64_t page_count = 0;
  std::vector<TableInfo> tables;      // sorted by name; sqlite_* internal tables excluded
  std::vector<SchemaObject> objects;  // indexes (explicit), triggers, views, by type and name
};

// The table called `name`, or nullptr.
[[nodiscard]] const TableInfo* find_table(const DatabaseSummary& s, std::string_view name);
// Whether `t` has a column called `name`.
[[nodiscard]] bool has_column(const TableInfo& t, std::string_view name);
// Binds a value typed on a command line (a key, a tenant id): an integer where the text reads
// as one exactly ("42", not "042"), so that it equals an integer stored without a declared
// type and a TEXT column's affinity still turns it into text; else the text.
void bind_typed(Statement& st, int index, std::string_view text);

enum class CountRows { kYes, kNo };

// Reads the schema (and row counts unless kNo) of a database. Works on untrusted connections:
// nothing from the schema is executed; virtual tables are listed but not counted.
// @error kDatabase (malformed schema, unreadable file).
[[nodiscard]] Result<DatabaseSummary> describe_database(Database& db,
                                                        CountRows count = CountRows::kYes);

// One table of the main schema as describe_database() describes it (rows not counted): its
// columns, primary key and foreign keys. `name` as SQLite resolves it (any case).
// @error kNotFound (no such table), kDatabase.
[[nodiscard]] Result<TableInfo> describe_table(Database& db, std::string_view name);

struct TenantSpec {
  std::string column;                // tenant column in data tables, e.g. "company_id"
  std::optional<std::string> table;  // tenant table, e.g. "companies"
  std::string key = "id";            // key column of the tenant table
  std::optional<std::string> label;  // label column of the tenant table, e.g. "name"
};

struct TenantCount {
  std::string id;     // the tenant value as text
  std::string label;  // from the tenant table; empty when unknown
  std::uint64_t rows = 0;
};

// Labels by tenant id, from the tenant table (empty when the spec names no table or label).
// @error kDatabase (no such table or column).
[[nodiscard]] Result<std::map<std::string, std::string>> tenant_labels(Database& db,
                                                                       const TenantSpec& spec);

// Tenant ids in the order people expect: integers numerically (2 before 10), then the rest as
// text.
bool tenant_id_less(std::string_view a, std::string_view b);

// Rows per tenant over every table that has the tenant column (plus the tenant's own row in
// the tenant table), sorted by id. @error kDatabase, kInvalidArgument (no table has the column).
[[nodiscard]] Result<std::vector<TenantCount>> count_tenants(Database& db,
                                                             const DatabaseSummary& summary,
                                                             const TenantSpec& spec);

}  // namespace restorekit::core

#pragma GCC visibility pop
