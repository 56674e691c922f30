#include <restorekit/catalog/index.hpp>

#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <thread>

#include <fmt/format.h>

#include <restorekit/core/fs.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/names.hpp>

#include "schema_sql.hpp"
#include "store.hpp"

namespace restorekit::catalog {

using namespace core;  // NOLINT(google-build-using-namespace): the index stores core's types
using detail::kPostgresSchema;
using detail::kSchemaVersion;
using detail::kSqliteFrom3;
using detail::kSqliteSchema;
using detail::now_seconds;
using detail::query_int;

namespace {

constexpr std::array<std::string_view, 7> kChildTables = {
    "entries", "databases", "db_tables", "db_tenants", "findings", "verifications", "archives"};
constexpr std::size_t kMaxStagedCopies = 4;  // staged databases kept for diff and restore

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto comma = s.find(',');
    out.emplace_back(s.substr(0, comma));
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
  }
  return out;
}

EntryType type_from_name(std::string_view name) {
  for (auto t :
       {EntryType::kFile, EntryType::kDirectory, EntryType::kSymlink, EntryType::kHardlink}) {
    if (entry_type_name(t) == name) return t;
  }
  return EntryType::kOther;
}

Severity severity_from_name(std::string_view name) {
  if (name == "error") return Severity::kError;
  if (name == "info") return Severity::kInfo;
  return Severity::kWarning;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// SQLite's GLOB without sets as a LIKE pattern ('*' %, '?' _, and %, _ and \ escaped), which
// PostgreSQL matches far faster than a regular expression (a suffix scan of 10 million entries:
// 17 s as a regular expression). nullopt when the pattern has a set.
std::optional<std::string> glob_like(std::string_view glob) {
  if (glob.find('[') != std::string_view::npos) return std::nullopt;
  std::string out;
  for (char c : glob) {
    if (c == '*') {
      out += '%';
    } else if (c == '?') {
      out += '_';
    } else {
      if (c == '%' || c == '_' || c == '\\') out += '\\';
      out += c;
    }
  }
  return out;
}

// SQLite's GLOB (what a SQLite catalog matches with) as a PostgreSQL regular expression: '*'
// any characters, '?' one, [...] a set ([^...] its complement, a leading ']' a member), every
// other character itself. nullopt for a pattern GLOB matches nothing with (an open '[').
std::optional<std::string> glob_regex(std::string_view glob) {
  std::string out = "^";
  for (std::size_t i = 0; i < glob.size(); ++i) {
    char c = glob[i];
    if (c == '*') {
      out += ".*";
    } else if (c == '?') {
      out += '.';
    } else if (c == '[') {
      std::size_t j = i + 1;
      std::string set = "[";
      if (j < glob.size() && glob[j] == '^') {
        set += '^';
        ++j;
      }
      if (j < glob.size() && glob[j] == ']') {
        set += "\\]";
        ++j;
      }
      for (; j < glob.size() && glob[j] != ']'; ++j) {
        if (glob[j] == '\\' || glob[j] == '[') set += '\\';
        set += glob[j];
      }
      if (j >= glob.size()) return std::nullopt;
      out += set + ']';
      i = j;
    } else {
      if (std::string_view("\\.^$|+(){}]").find(c) != std::string_view::npos) out += '\\';
      out += c;
    }
  }
  return out + '$';
}

}  // namespace

Result<Index> Index::open(const std::filesystem::path& path) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) {
    return fail(ErrorCode::kIo,
                fmt::format("cannot create the index folder {}: {}", path.parent_path().string(),
                            ec.message()),
                path.string());
  }
  auto opened = open_file(path);
  if (opened || !is_damaged_file(opened.error())) return opened;
  if (!looks_like_a_catalog(path)) {
    return fail(ErrorCode::kDatabase,
                fmt::format("{} is not a restorekit catalog ({}); give --catalog a new file",
                            path.string(), opened.error().message),
                path.string());
  }
  // A cache: keep the damaged file for whoever wants to look at it, and start afresh.
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  std::filesystem::path aside = path.string() + ".corrupt-" + stamp;
  std::filesystem::rename(path, aside, ec);
  if (ec) {
    return fail(ErrorCode::kDatabase,
                fmt::format("the catalog {} is damaged ({}) and cannot be moved aside: {}",
                            path.string(), opened.error().message, ec.message()),
                path.string());
  }
  for (const char* suffix : {"-wal", "-shm"}) {
    std::filesystem::remove(path.string() + suffix, ec);
  }
  RK_TRY_ASSIGN(auto index, open_file(path));
  index.set_aside_ = aside;
  return index;
}

Result<Index> Index::open_location(const std::string& location) {
  if (!detail::is_postgres_uri(location)) return open(location);
  RK_TRY_ASSIGN(auto store, detail::postgres_store(location));
  Index index(std::move(store), postgres_staged_dir(location));
  RK_TRY(index.init_schema());
  return index;
}

// Staged copies are files on this machine: a catalog on a server keeps them in this user's
// cache, one folder per catalog.
std::filesystem::path Index::postgres_staged_dir(const std::string& uri) {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  std::filesystem::path cache;
  if (xdg && *xdg) {
    cache = xdg;
  } else if (home && *home) {
    cache = std::filesystem::path(home) / ".cache";
  } else {
    return {};  // nowhere to keep them: none are kept
  }
  auto digest = core::hash128(std::string_view(uri)).hex().substr(0, 16);
  return cache / "restorekit" / ("staged-postgres-" + digest);
}

Index::Index(std::unique_ptr<detail::Store> store, std::filesystem::path staged_dir)
    : store_(std::move(store)), staged_dir_(std::move(staged_dir)) {}
Index::~Index() = default;
Index::Index(Index&&) noexcept = default;
Index& Index::operator=(Index&&) noexcept = default;

const std::string& Index::location() const {
  return store_->location();
}

Result<Index> Index::open_file(const std::filesystem::path& path) {
  RK_TRY_ASSIGN(auto db, Database::open(path, OpenMode::kCreate));
  // Turning a new file to WAL takes a lock that SQLite's busy handler does not wait for: workers
  // opening a fresh catalog at once met "database is locked" about once in 40 runs. The switch
  // is tried again for up to 5 s (the busy timeout of everything else).
  for (int attempt = 0;; ++attempt) {
    auto wal = db.exec("PRAGMA journal_mode=WAL");
    if (wal) break;
    if (attempt >= 100 || wal.error().message.find("database is locked") == std::string::npos) {
      return tl::unexpected(wal.error());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  RK_TRY(db.exec("PRAGMA synchronous=NORMAL;"));
  RK_TRY(db.add_name_key_function());
  Index index(detail::sqlite_store(std::move(db)),
              std::filesystem::path(path.string() + ".staged"));
  RK_TRY(index.init_schema());
  // Reading every table's root page finds a truncated file at once (quick_check would read
  // the whole catalog on every command).
  RK_TRY(
      index.store_->exec("SELECT count(*) FROM (SELECT 1 FROM archives LIMIT 1); "
                         "SELECT count(*) FROM (SELECT 1 FROM entries LIMIT 1);"));
  return index;
}

// Only a file that was an index (SQLite's magic, or an index's name) is moved aside: a wrong
// --catalog pointing at someone's archive stays where it is.
bool Index::looks_like_a_catalog(const std::filesystem::path& path) {
  auto ext = path.extension().string();
  if (ext == ".sqlite" || ext == ".sqlite3" || ext == ".db") return true;
  return has_sqlite_magic(path);
}

bool Index::is_damaged_file(const Error& e) {
  return e.code == ErrorCode::kDatabase && (e.message.find("not a database") != std::string::npos ||
                                            e.message.find("malformed") != std::string::npos);
}

Result<Index> Index::open_memory() {
  RK_TRY_ASSIGN(auto db, Database::open_memory());
  RK_TRY(db.add_name_key_function());
  Index index(detail::sqlite_store(std::move(db)), {});
  RK_TRY(index.init_schema());
  return index;
}

Result<void> Index::init_schema() {
  if (store_->dialect() == detail::Dialect::kPostgres) return init_postgres_schema();
  RK_TRY_ASSIGN(auto version, query_int(*store_, "PRAGMA user_version"));
  std::int64_t v = version.value_or(0);
  if (v > kSchemaVersion) return newer_schema(v);
  if (v == kSchemaVersion) return {};
  return in_transaction([&]() -> Result<void> {
    if (v == 3) {
      RK_TRY(store_->exec(kSqliteFrom3));
    } else if (v >= 1) {  // a cache then: an older layout is rebuilt
      for (auto table : kChildTables)
        RK_TRY(store_->exec(fmt::format("DROP TABLE IF EXISTS {}", table)));
      RK_TRY(store_->exec("DROP TABLE IF EXISTS staged"));
    }
    RK_TRY(store_->exec(kSqliteSchema));
    return store_->exec(fmt::format("PRAGMA user_version = {}", kSchemaVersion));
  });
}

// Versions live in restorekit_schema; one process migrates at a time (an advisory lock held
// to the end of the transaction), the others wait and find the work done. A current schema is
// seen without the lock, so that one stalled client cannot hold every other one up.
Result<void> Index::init_postgres_schema() {
  RK_TRY_ASSIGN(auto exists, query_int(*store_,
                                       "SELECT count(*) FROM pg_tables WHERE tablename "
                                       "= 'restorekit_schema' AND schemaname = "
                                       "current_schema()"));
  if (exists.value_or(0) > 0) {
    RK_TRY_ASSIGN(auto current, query_int(*store_, "SELECT max(version) FROM restorekit_schema"));
    if (current && *current > kSchemaVersion) return newer_schema(*current);
    if (current && *current == kSchemaVersion) return {};
  }
  return in_transaction([&]() -> Result<void> {
    RK_TRY(store_->exec("SELECT pg_advisory_xact_lock(7262173546173743)"));  // "restorekit"
    RK_TRY(store_->exec("CREATE TABLE IF NOT EXISTS restorekit_schema(version BIGINT NOT NULL)"));
    RK_TRY_ASSIGN(auto version, query_int(*store_, "SELECT max(version) FROM restorekit_schema"));
    if (version && *version > kSchemaVersion) return newer_schema(*version);
    if (version && *version == kSchemaVersion) return {};
    RK_TRY(store_->exec(kPostgresSchema));
    RK_TRY(store_->exec("DELETE FROM restorekit_schema"));
    return store_->exec(
        fmt::format("INSERT INTO restorekit_schema(version) VALUES({})", kSchemaVersion));
  });
}

Result<void> Index::newer_schema(std::int64_t version) const {
  return fail(ErrorCode::kDatabase,
              fmt::format("the catalog {} was written by a newer restorekit (schema {}); use "
                          "--catalog to choose another",
                          location(), version),
              location());
}

Result<std::optional<ArchiveSummary>> Index::find(const std::string& path,
                                                  const Fingerprint& fingerprint) {
  RK_TRY_ASSIGN(auto q, store_->prepare("SELECT * FROM archives WHERE path = ?1"));
  q->bind(1, std::string_view(path));
  std::optional<ArchiveSummary> out;
  std::int64_t id = 0;
  RK_TRY(q->each([&](const detail::Row& r) -> Result<void> {
    id = r.integer(0);
    out = read_summary(r);
    return {};
  }));
  if (!out || !(out->fingerprint == fingerprint)) return std::optional<ArchiveSummary>{};
  RK_TRY(load_children({{id, &*out}}));
  return out;
}

ArchiveSummary Index::read_summary(const detail::Row& r) {
  ArchiveSummary s;
  s.path = r.text(1);
  s.fingerprint.size = static_cast<std::uint64_t>(r.integer(2));
  s.fingerprint.mtime_ns = r.integer(3);
  s.fingerprint.head_tail = Digest128::from_hex(r.text(4)).value_or(Digest128{});
  s.kind = r.text(5) == "restorekit" ? BackupKind::kRestorekit : BackupKind::kForeign;
  s.archive.format = r.text(6);
  s.archive.format_detail = r.text(7);
  s.archive.filters = split(r.text(8));
  s.encrypted = r.integer(9) != 0;
  s.entries = static_cast<std::uint64_t>(r.integer(10));
  s.bytes = static_cast<std::uint64_t>(r.integer(11));
  s.archive_bytes = static_cast<std::uint64_t>(r.integer(12));
  s.document_files = static_cast<std::uint64_t>(r.integer(13));
  s.document_bytes = static_cast<std::uint64_t>(r.integer(14));
  if (!r.null(15)) s.oldest_mtime = r.integer(15);
  if (!r.null(16)) s.newest_mtime = r.integer(16);
  s.header_json = r.text(17);
  s.listed = r.integer(18) != 0;
  if (!s.header_json.empty()) {
    if (auto h = parse_header(s.header_json)) s.header = std::move(*h);
  }
  return s;
}

// The databases, tables, tenants and findings of the archives in `by_id`: of one archive, or
// (by_id holding them all) of every archive in four queries instead of four per archive.
Result<void> Index::load_children(const std::map<std::int64_t, ArchiveSummary*>& by_id) {
  if (by_id.empty()) return {};
  bool one = by_id.size() == 1;
  auto query = [&](std::string_view columns, std::string_view table,
                   std::string_view order) -> Result<std::unique_ptr<detail::Query>> {
    RK_TRY_ASSIGN(auto q, store_->prepare(fmt::format("SELECT archive_id, {} FROM {}{} ORDER BY "
                                                      "archive_id, {}",
                                                      columns, table,
                                                      one ? " WHERE archive_id = ?1" : "", order)));
    if (one) q->bind(1, by_id.begin()->first);
    return q;
  };
  auto summary_of = [&](const detail::Row& r) -> ArchiveSummary* {
    auto it = by_id.find(r.integer(0));
    return it == by_id.end() ? nullptr : it->second;
  };
  RK_TRY_ASSIGN(auto dbs, query("entry, kind, bytes, user_version, page_size", "databases", "seq"));
  RK_TRY(dbs->each([&](const detail::Row& r) -> Result<void> {
    if (auto* s = summary_of(r)) {
      s->databases.push_back(DatabaseInfo{r.text(1),
                                          database_format_from_name(r.text(2)),
                                          static_cast<std::uint64_t>(r.integer(3)),
                                          r.integer(4),
                                          r.integer(5),
                                          {},
                                          {}});
    }
    return {};
  }));
  // Tables and tenants hang off their database by its position (db_seq).
  auto database_at = [&](const detail::Row& r) -> DatabaseInfo* {
    auto* s = summary_of(r);
    auto seq = r.integer(1);
    auto i = static_cast<std::size_t>(seq);
    return s && seq >= 0 && i < s->databases.size() ? &s->databases[i] : nullptr;
  };
  RK_TRY_ASSIGN(auto tables, query("db_seq, name, rows", "db_tables", "db_seq, seq"));
  RK_TRY(tables->each([&](const detail::Row& r) -> Result<void> {
    if (auto* db = database_at(r)) {
      db->tables.push_back(HeaderTable{r.text(2), static_cast<std::uint64_t>(r.integer(3))});
    }
    return {};
  }));
  RK_TRY_ASSIGN(auto tenants, query("db_seq, id, label, rows", "db_tenants", "db_seq, seq"));
  RK_TRY(tenants->each([&](const detail::Row& r) -> Result<void> {
    if (auto* db = database_at(r)) {
      db->tenants.push_back(
          TenantCount{r.text(2), r.text(3), static_cast<std::uint64_t>(r.integer(4))});
    }
    return {};
  }));
  RK_TRY_ASSIGN(auto findings, query("code, severity, entry, message", "findings", "seq"));
  return findings->each([&](const detail::Row& r) -> Result<void> {
    if (auto* s = summary_of(r)) {
      s->findings.push_back(
          Finding{r.text(1), severity_from_name(r.text(2)), r.text(3), r.text(4)});
    }
    return {};
  });
}

Result<void> Index::in_transaction(const std::function<Result<void>()>& body) {
  RK_TRY(store_->begin());
  auto result = body();
  if (!result) {
    store_->rollback();
    return result;
  }
  return store_->commit();
}

Result<void> Index::put(const ArchiveSummary& s, const EntryStore* entries) {
  return in_transaction([&]() -> Result<void> {
    RK_TRY(delete_archive(s.path));
    RK_TRY_ASSIGN(auto q, store_->prepare("INSERT INTO archives(path, size, mtime_ns, head_tail, "
                                          "kind, format, format_detail, filters, encrypted, "
                                          "entries, bytes, archive_bytes, document_files, "
                                          "document_bytes, oldest_mtime, newest_mtime, "
                                          "header_json, listed, indexed_at) VALUES(?1,?2,?3,?4,"
                                          "?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,"
                                          "?19) RETURNING id"));
    q->bind(1, std::string_view(s.path));
    q->bind(2, static_cast<std::int64_t>(s.fingerprint.size));
    q->bind(3, s.fingerprint.mtime_ns);
    q->bind(4, std::string_view(s.fingerprint.head_tail.hex()));
    q->bind(5, std::string_view(s.kind == BackupKind::kRestorekit ? "restorekit" : "foreign"));
    q->bind(6, std::string_view(s.archive.format));
    q->bind(7, std::string_view(s.archive.format_detail));
    q->bind(8, std::string_view(join(s.archive.filters)));
    q->bind(9, static_cast<std::int64_t>(s.encrypted));
    q->bind(10, static_cast<std::int64_t>(s.entries));
    q->bind(11, static_cast<std::int64_t>(s.bytes));
    q->bind(12, static_cast<std::int64_t>(s.archive_bytes));
    q->bind(13, static_cast<std::int64_t>(s.document_files));
    q->bind(14, static_cast<std::int64_t>(s.document_bytes));
    q->bind(15, s.oldest_mtime);
    q->bind(16, s.newest_mtime);
    q->bind(17, std::string_view(s.header_json));
    q->bind(18, static_cast<std::int64_t>(s.listed && entries != nullptr));
    q->bind(19, now_seconds());
    std::int64_t id = 0;
    RK_TRY(q->each([&](const detail::Row& r) -> Result<void> {
      id = r.integer(0);
      return {};
    }));
    RK_TRY(put_children(id, s));
    if (entries) RK_TRY(put_entries(id, *entries));
    return {};
  });
}

Result<void> Index::put_children(std::int64_t id, const ArchiveSummary& s) {
  RK_TRY_ASSIGN(auto dbs, store_->prepare("INSERT INTO databases VALUES(?1,?2,?3,?4,?5,?6,?7)"));
  RK_TRY_ASSIGN(auto tables, store_->prepare("INSERT INTO db_tables VALUES(?1,?2,?3,?4,?5)"));
  RK_TRY_ASSIGN(auto tenants, store_->prepare("INSERT INTO db_tenants VALUES(?1,?2,?3,?4,?5,?6)"));
  for (std::size_t i = 0; i < s.databases.size(); ++i) {
    const auto& d = s.databases[i];
    auto seq = static_cast<std::int64_t>(i);
    dbs->bind(1, id);
    dbs->bind(2, seq);
    dbs->bind(3, std::string_view(d.entry));
    dbs->bind(4, database_format_name(d.kind));
    dbs->bind(5, static_cast<std::int64_t>(d.bytes));
    dbs->bind(6, d.user_version);
    dbs->bind(7, d.page_size);
    RK_TRY(dbs->run());
    for (std::size_t k = 0; k < d.tables.size(); ++k) {
      tables->bind(1, id);
      tables->bind(2, seq);
      tables->bind(3, static_cast<std::int64_t>(k));
      tables->bind(4, std::string_view(d.tables[k].name));
      tables->bind(5, static_cast<std::int64_t>(d.tables[k].rows));
      RK_TRY(tables->run());
    }
    for (std::size_t k = 0; k < d.tenants.size(); ++k) {
      tenants->bind(1, id);
      tenants->bind(2, seq);
      tenants->bind(3, static_cast<std::int64_t>(k));
      tenants->bind(4, std::string_view(d.tenants[k].id));
      tenants->bind(5, std::string_view(d.tenants[k].label));
      tenants->bind(6, static_cast<std::int64_t>(d.tenants[k].rows));
      RK_TRY(tenants->run());
    }
  }
  RK_TRY_ASSIGN(auto findings, store_->prepare("INSERT INTO findings VALUES(?1,?2,?3,?4,?5,?6)"));
  for (std::size_t i = 0; i < s.findings.size(); ++i) {
    const auto& f = s.findings[i];
    findings->bind(1, id);
    findings->bind(2, static_cast<std::int64_t>(i));
    findings->bind(3, std::string_view(f.code));
    findings->bind(4, severity_name(f.severity));
    findings->bind(5, std::string_view(f.entry));
    findings->bind(6, std::string_view(f.message));
    RK_TRY(findings->run());
  }
  return {};
}

namespace {

// archives.listed: 0 no entries stored, 1 entries stored (by inspect, or by a verify that could
// not read everything), kListedByVerify entries with their hashes from an intact verify.
constexpr std::int64_t kListedByVerify = 2;

// Where a path's last segment starts: a folder's trailing '/' stays with it ("a/b/" -> "b/").
std::size_t last_segment(std::string_view path) {
  auto slash = path.find_last_of('/', path.size() > 1 ? path.size() - 2 : 0);
  return slash == std::string_view::npos ? 0 : slash + 1;
}

}  // namespace

namespace {

constexpr int kEntryColumns = 12;

// INSERT INTO entries of `rows` rows of placeholders.
std::string insert_entries_sql(std::size_t rows) {
  std::string sql = "INSERT INTO entries VALUES";
  for (std::size_t r = 0; r < rows; ++r) {
    sql += r ? ",(" : "(";
    for (int c = 1; c <= kEntryColumns; ++c) {
      sql += fmt::format("{}?{}", c > 1 ? "," : "", static_cast<int>(r) * kEntryColumns + c);
    }
    sql += ')';
  }
  return sql;
}

// Binds archive `id`'s entry number `seq` (`e`, its name key `key`) to the row that starts after
// placeholder `at`.
void bind_entry(detail::Query& q, int at, std::int64_t id, std::int64_t seq, const EntryRecord& e,
                std::string_view key) {
  q.bind(at + 1, id);
  q.bind(at + 2, seq);
  q.bind(at + 3, std::string_view(e.path));
  q.bind(at + 4, entry_type_name(e.type));
  q.bind(at + 5,
         e.size ? std::optional<std::int64_t>(static_cast<std::int64_t>(*e.size)) : std::nullopt);
  q.bind(at + 6, e.mtime);
  q.bind(at + 7, static_cast<std::int64_t>(e.encrypted));
  q.bind(at + 8, static_cast<std::int64_t>(e.safe));
  if (e.hash) {
    q.bind(at + 9, std::string_view(e.hash->hex()));
  } else {
    q.bind_null(at + 9);
  }
  auto file = std::string_view(e.path).substr(last_segment(e.path));
  q.bind(at + 10, file);
  q.bind(at + 11, key);
  // The file's key is the path key's last segment where the path was normalised (valid UTF-8
  // throughout: name_key works segment by segment); a path that is its own key may still hold a
  // file name to normalise (the path invalid elsewhere), which name_key(file) decides.
  if (key != e.path) {
    q.bind(at + 12, key.substr(last_segment(key)));
  } else {
    q.bind(at + 12, std::string_view(name_key(file)));
  }
}

}  // namespace

// Entries go in batches of rows per statement on a server (one round trip each: an archive of
// 100,000 entries one row at a time took seconds even over a local socket), one row at a time
// in SQLite (its prepared statement is cheapest there).
Result<void> Index::put_entries(std::int64_t id, const EntryStore& entries) {
  const std::size_t batch = store_->dialect() == detail::Dialect::kPostgres ? 500 : 1;
  RK_TRY_ASSIGN(auto full, store_->prepare(insert_entries_sql(batch)));
  std::int64_t seq = 0;
  std::size_t in_batch = 0;
  auto bind_row = [&](detail::Query& q, const EntryRecord& e, std::string_view key) {
    bind_entry(q, static_cast<int>(in_batch) * kEntryColumns, id, seq++, e, key);
  };
  // The last, partial batch is bound again into a statement of its size.
  std::vector<std::pair<EntryRecord, std::string>> pending;
  RK_TRY(
      entries.for_each_keyed([&](std::string_view key, const StoredEntry& stored) -> Result<void> {
        bind_row(*full, stored.record, key);
        if (batch > 1) pending.emplace_back(stored.record, key);
        if (++in_batch < batch) return {};
        in_batch = 0;
        pending.clear();
        return full->run();
      }));
  if (in_batch == 0) return {};
  RK_TRY_ASSIGN(auto rest, store_->prepare(insert_entries_sql(in_batch)));
  seq -= static_cast<std::int64_t>(in_batch);
  in_batch = 0;
  for (const auto& [e, key] : pending) {
    bind_row(*rest, e, key);
    ++in_batch;
  }
  return rest->run();
}

namespace {

EntryRecord read_entry(const detail::Row& r, int first) {
  EntryRecord e;
  e.path = r.text(first);
  e.type = type_from_name(r.text(first + 1));
  if (!r.null(first + 2)) e.size = static_cast<std::uint64_t>(r.integer(first + 2));
  e.mtime = r.integer(first + 3);
  e.encrypted = r.integer(first + 4) != 0;
  e.safe = r.integer(first + 5) != 0;
  if (!r.null(first + 6)) e.hash = Digest128::from_hex(r.text(first + 6));
  return e;
}

// verified_at, verdict, errors, warnings from column `first` on.
Verification read_verification(const detail::Row& r, int first) {
  return Verification{r.integer(first), verdict_from_name(r.text(first + 1)),
                      static_cast<std::uint64_t>(r.integer(first + 2)),
                      static_cast<std::uint64_t>(r.integer(first + 3))};
}

}  // namespace

Result<void> Index::each_entry(const std::string& path, const EntryFn& fn) {
  RK_TRY_ASSIGN(auto q, store_->prepare("SELECT e.path, e.type, e.size, e.mtime, e.encrypted, "
                                        "e.safe, e.hash FROM entries e JOIN archives a ON "
                                        "a.id = e.archive_id WHERE a.path = ?1 ORDER BY e.seq"));
  q->bind(1, std::string_view(path));
  return q->each([&](const detail::Row& r) -> Result<void> { return fn(read_entry(r, 0)); });
}

Result<std::vector<Index::EntryMatch>> Index::find_entries(std::string_view glob,
                                                           std::size_t limit) {
  // Both stores match the entries' NFC keys: SQLite with GLOB, PostgreSQL with the same
  // pattern as LIKE or, with a set, a regular expression.
  bool postgres = store_->dialect() == detail::Dialect::kPostgres;
  std::string pattern = name_key(glob);
  std::string_view op = "GLOB";
  if (postgres) {
    if (auto like = glob_like(pattern)) {
      pattern = *like;
      op = "LIKE";
    } else if (auto regex = glob_regex(pattern)) {
      pattern = *regex;
      op = "~";
    } else {
      return std::vector<EntryMatch>{};  // an open '[': GLOB matches nothing
    }
  }
  bool anywhere = glob.find('/') == std::string_view::npos;
  RK_TRY_ASSIGN(auto q, store_->prepare(fmt::format(
                            "SELECT a.path, e.path, e.type, e.size, e.mtime, e.encrypted, e.safe, "
                            "e.hash FROM entries e JOIN archives a ON a.id = e.archive_id WHERE "
                            "e.path_key {0} ?1{1} ORDER BY a.path, e.seq LIMIT ?2",
                            op, anywhere ? fmt::format(" OR e.file_key {} ?1", op) : "")));
  q->bind(1, std::string_view(pattern));
  q->bind(2, static_cast<std::int64_t>(limit));
  std::vector<EntryMatch> out;
  RK_TRY(q->each([&](const detail::Row& r) -> Result<void> {
    out.push_back(EntryMatch{r.text(0), read_entry(r, 1)});
    return {};
  }));
  return out;
}

Result<std::vector<ArchiveSummary>> Index::list() {
  RK_TRY_ASSIGN(auto q,
                store_->prepare("SELECT * FROM archives ORDER BY indexed_at DESC, id DESC"));
  std::vector<ArchiveSummary> out;
  std::vector<std::int64_t> ids;
  RK_TRY(q->each([&](const detail::Row& r) -> Result<void> {
    ids.push_back(r.integer(0));
    out.push_back(read_summary(r));
    return {};
  }));
  std::map<std::int64_t, ArchiveSummary*> by_id;
  for (std::size_t i = 0; i < out.size(); ++i) by_id.emplace(ids[i], &out[i]);
  RK_TRY(load_children(by_id));
  return out;
}

Result<void> Index::forget(const std::string& path) {
  return in_transaction([&] { return delete_archive(path); });
}

Result<std::optional<Index::Known>> Index::known_archive(const std::string& path,
                                                         const Fingerprint& fingerprint) {
  RK_TRY_ASSIGN(auto q, store_->prepare("SELECT id, size, mtime_ns, head_tail, listed FROM "
                                        "archives WHERE path = ?1"));
  q->bind(1, std::string_view(path));
  std::optional<Known> out;
  RK_TRY(q->each([&](const detail::Row& r) -> Result<void> {
    Fingerprint stored{static_cast<std::uint64_t>(r.integer(1)), r.integer(2),
                       Digest128::from_hex(r.text(3)).value_or(Digest128{})};
    if (stored == fingerprint) out = Known{r.integer(0), r.integer(4) == kListedByVerify};
    return {};
  }));
  return out;
}

Result<bool> Index::record_verification(const std::string& path, const Fingerprint& fingerprint,
                                        const EntryStore* listing, const Verification& v) {
  RK_TRY_ASSIGN(auto known, known_archive(path, fingerprint));
  if (!known) return false;
  // The same bytes listed by an intact verify before have these entries and hashes: a verify
  // again (a CI job's nightly one) writes only its verdict. A listing from inspect (no hashes)
  // or from a verify that could not read everything (damaged, no password) is replaced.
  if (known->verified_listing) listing = nullptr;
  const std::int64_t listed_as = v.verdict == Verdict::kIntact ? kListedByVerify : 1;
  auto recorded = in_transaction([&]() -> Result<void> {
    if (listing) {
      RK_TRY_ASSIGN(auto del, store_->prepare("DELETE FROM entries WHERE archive_id = ?1"));
      del->bind(1, known->id);
      RK_TRY(del->run());
      RK_TRY(put_entries(known->id, *listing));
      RK_TRY_ASSIGN(auto listed, store_->prepare("UPDATE archives SET listed = ?2 WHERE id = ?1"));
      listed->bind(1, known->id);
      listed->bind(2, listed_as);
      RK_TRY(listed->run());
    }
    RK_TRY_ASSIGN(auto q,
                  store_->prepare("INSERT INTO verifications VALUES(?1, ?2, ?3, ?4, ?5) "
                                  "ON CONFLICT(archive_id) DO UPDATE SET verified_at = "
                                  "excluded.verified_at, verdict = excluded.verdict, errors = "
                                  "excluded.errors, warnings = excluded.warnings"));
    q->bind(1, known->id);
    q->bind(2, v.verified_at ? v.verified_at : now_seconds());
    q->bind(3, verdict_name(v.verdict));
    q->bind(4, static_cast<std::int64_t>(v.errors));
    q->bind(5, static_cast<std::int64_t>(v.warnings));
    return q->run();
  });
  RK_TRY(recorded);
  return true;
}

Result<std::map<std::string, Verification>> Index::verifications() {
  RK_TRY_ASSIGN(auto q, store_->prepare("SELECT a.path, v.verified_at, v.verdict, v.errors, "
                                        "v.warnings FROM verifications v JOIN archives a ON "
                                        "a.id = v.archive_id"));
  std::map<std::string, Verification> out;
  RK_TRY(q->each([&](const detail::Row& r) -> Result<void> {
    out.emplace(r.text(0), read_verification(r, 1));
    return {};
  }));
  return out;
}

Result<std::optional<Verification>> Index::verification(const std::string& path) {
  RK_TRY_ASSIGN(auto q, store_->prepare("SELECT v.verified_at, v.verdict, v.errors, v.warnings "
                                        "FROM verifications v JOIN archives a ON a.id = "
                                        "v.archive_id WHERE a.path = ?1"));
  q->bind(1, std::string_view(path));
  std::optional<Verification> out;
  RK_TRY(q->each([&](const detail::Row& r) -> Result<void> {
    out = read_verification(r, 0);
    return {};
  }));
  return out;
}

Result<std::optional<StagedCopy>> Index::staged_database(const std::string& path,
                                                         const Fingerprint& fingerprint) {
  RK_TRY_ASSIGN(auto q, store_->prepare("SELECT size, mtime_ns, head_tail, entry, file FROM "
                                        "staged WHERE path = ?1"));
  q->bind(1, std::string_view(path));
  std::optional<Fingerprint> stored;
  StagedCopy copy;
  RK_TRY(q->each([&](const detail::Row& r) -> Result<void> {
    stored = Fingerprint{static_cast<std::uint64_t>(r.integer(0)), r.integer(1),
                         Digest128::from_hex(r.text(2)).value_or(Digest128{})};
    copy = StagedCopy{r.text(3), std::filesystem::path(r.text(4))};
    return {};
  }));
  std::error_code ec;
  if (!stored || !(*stored == fingerprint) || !std::filesystem::is_regular_file(copy.file, ec)) {
    return std::optional<StagedCopy>{};
  }
  RK_TRY_ASSIGN(auto used, store_->prepare("UPDATE staged SET used_at = ?2 WHERE path = ?1"));
  used->bind(1, std::string_view(path));
  used->bind(2, now_ns());
  RK_TRY(used->run());
  return std::optional<StagedCopy>(std::move(copy));
}

Result<std::filesystem::path> Index::keep_staged_database(const std::string& path,
                                                          const Fingerprint& fingerprint,
                                                          const std::string& entry,
                                                          const std::filesystem::path& file) {
  const auto& dir = staged_dir_;
  if (dir.empty()) return file;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  auto target = dir / (fingerprint.head_tail.hex() + ".sqlite");
  std::filesystem::rename(file, target, ec);
  if (ec) {  // another filesystem: copy
    ec.clear();
    std::filesystem::copy_file(file, target, std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) {
      return fail(
          ErrorCode::kIo,
          fmt::format("cannot keep the staged database in {}: {}", dir.string(), ec.message()),
          dir.string());
    }
  }
  auto kept = in_transaction([&]() -> Result<void> {
    RK_TRY_ASSIGN(auto q, store_->prepare(
                              "INSERT INTO staged VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                              "ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = "
                              "excluded.mtime_ns, head_tail = excluded.head_tail, entry = "
                              "excluded.entry, file = excluded.file, used_at = excluded.used_at"));
    q->bind(1, std::string_view(path));
    q->bind(2, static_cast<std::int64_t>(fingerprint.size));
    q->bind(3, fingerprint.mtime_ns);
    q->bind(4, std::string_view(fingerprint.head_tail.hex()));
    q->bind(5, std::string_view(entry));
    q->bind(6, std::string_view(target.string()));
    q->bind(7, now_ns());  // nanoseconds: copies kept in one second still have an order
    return q->run();
  });
  RK_TRY(kept);
  // Only the most recently used copies stay: they are as large as the databases. (A catalog on
  // a server lists every machine's copies; each machine removes only files it has.)
  RK_TRY_ASSIGN(auto all, store_->prepare("SELECT path, file FROM staged ORDER BY used_at DESC, "
                                          "path DESC"));
  std::vector<std::pair<std::string, std::string>> drop;
  std::size_t seen = 0;
  RK_TRY(all->each([&](const detail::Row& r) -> Result<void> {
    if (++seen > kMaxStagedCopies) drop.emplace_back(r.text(0), r.text(1));
    return {};
  }));
  for (const auto& [p, f] : drop) {
    RK_TRY_ASSIGN(auto del, store_->prepare("DELETE FROM staged WHERE path = ?1"));
    del->bind(1, std::string_view(p));
    RK_TRY(del->run());
    if (f != target.string()) std::filesystem::remove(f, ec);
  }
  return target;
}

Result<void> Index::delete_archive(const std::string& path) {
  RK_TRY_ASSIGN(auto q, store_->prepare("SELECT id FROM archives WHERE path = ?1"));
  q->bind(1, std::string_view(path));
  std::optional<std::int64_t> id;
  RK_TRY(q->each([&](const detail::Row& r) -> Result<void> {
    id = r.integer(0);
    return {};
  }));
  if (!id) return {};
  for (auto table : kChildTables) {
    std::string_view key = table == "archives" ? "id" : "archive_id";
    RK_TRY_ASSIGN(auto del,
                  store_->prepare(fmt::format("DELETE FROM {} WHERE {} = ?1", table, key)));
    del->bind(1, *id);
    RK_TRY(del->run());
  }
  return {};
}

}  // namespace restorekit::catalog
