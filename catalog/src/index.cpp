#include <restorekit/catalog/index.hpp>

#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>

#include <fmt/format.h>

#include <restorekit/core/fs.hpp>
#include <restorekit/core/names.hpp>

namespace restorekit::catalog {

using namespace core;  // NOLINT(google-build-using-namespace): the index stores core's types

namespace {

constexpr std::int64_t kSchemaVersion = 3;

constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS archives(
  id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, head_tail TEXT NOT NULL,
  kind TEXT NOT NULL, format TEXT NOT NULL, format_detail TEXT NOT NULL, filters TEXT NOT NULL,
  encrypted INTEGER NOT NULL, entries INTEGER NOT NULL, bytes INTEGER NOT NULL,
  archive_bytes INTEGER NOT NULL, document_files INTEGER NOT NULL,
  document_bytes INTEGER NOT NULL, oldest_mtime INTEGER, newest_mtime INTEGER,
  header_json TEXT NOT NULL, listed INTEGER NOT NULL, indexed_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS entries(
  archive_id INTEGER NOT NULL, seq INTEGER NOT NULL, path TEXT NOT NULL, type TEXT NOT NULL,
  size INTEGER, mtime INTEGER NOT NULL, encrypted INTEGER NOT NULL, safe INTEGER NOT NULL,
  hash TEXT, name TEXT NOT NULL, PRIMARY KEY(archive_id, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_by_path ON entries(path);
CREATE INDEX IF NOT EXISTS entries_by_name ON entries(name);
CREATE TABLE IF NOT EXISTS databases(
  archive_id INTEGER NOT NULL, seq INTEGER NOT NULL, entry TEXT NOT NULL, kind TEXT NOT NULL,
  bytes INTEGER NOT NULL, user_version INTEGER NOT NULL, page_size INTEGER NOT NULL,
  PRIMARY KEY(archive_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS db_tables(
  archive_id INTEGER NOT NULL, db_seq INTEGER NOT NULL, seq INTEGER NOT NULL,
  name TEXT NOT NULL, rows INTEGER NOT NULL, PRIMARY KEY(archive_id, db_seq, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS db_tenants(
  archive_id INTEGER NOT NULL, db_seq INTEGER NOT NULL, seq INTEGER NOT NULL,
  id TEXT NOT NULL, label TEXT NOT NULL, rows INTEGER NOT NULL,
  PRIMARY KEY(archive_id, db_seq, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS verifications(
  archive_id INTEGER PRIMARY KEY, verified_at INTEGER NOT NULL, verdict TEXT NOT NULL,
  errors INTEGER NOT NULL, warnings INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS staged(
  path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
  head_tail TEXT NOT NULL, entry TEXT NOT NULL, file TEXT NOT NULL, used_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS findings(
  archive_id INTEGER NOT NULL, seq INTEGER NOT NULL, code TEXT NOT NULL, severity TEXT NOT NULL,
  entry TEXT NOT NULL, message TEXT NOT NULL, PRIMARY KEY(archive_id, seq)) WITHOUT ROWID;
)sql";

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

void bind_optional(Statement& st, int index, const std::optional<std::int64_t>& v) {
  if (v)
    st.bind(index, *v);
  else
    st.bind_null(index);
}

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
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

Result<Index> Index::open_file(const std::filesystem::path& path) {
  RK_TRY_ASSIGN(auto db, Database::open(path, OpenMode::kCreate));
  Index index(std::move(db));
  RK_TRY(index.db_.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"));
  RK_TRY(index.init_schema());
  // Reading every table's root page finds a truncated file at once (quick_check would read
  // the whole catalog on every command).
  RK_TRY(
      index.db_.exec("SELECT count(*) FROM (SELECT 1 FROM archives LIMIT 1); "
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
  Index index(std::move(db));
  RK_TRY(index.init_schema());
  return index;
}

Result<void> Index::init_schema() {
  RK_TRY(db_.add_name_key_function());
  RK_TRY_ASSIGN(auto version, db_.query_int("PRAGMA user_version"));
  if (version > kSchemaVersion) {
    return fail(ErrorCode::kDatabase,
                fmt::format("the index {} was written by a newer restorekit (schema {}); use "
                            "--catalog to choose another file",
                            db_.path(), version),
                db_.path());
  }
  return in_transaction([&]() -> Result<void> {
    if (version >= 1 && version < kSchemaVersion) {  // a cache: an older layout is rebuilt
      for (auto table : kChildTables)
        RK_TRY(db_.exec(fmt::format("DROP TABLE IF EXISTS {}", table)));
      RK_TRY(db_.exec("DROP TABLE IF EXISTS staged"));
    }
    RK_TRY(db_.exec(kSchema));
    return db_.exec(fmt::format("PRAGMA user_version = {}", kSchemaVersion));
  });
}

Result<std::optional<ArchiveSummary>> Index::find(const std::string& path,
                                                  const Fingerprint& fingerprint) {
  RK_TRY_ASSIGN(auto st, db_.prepare("SELECT * FROM archives WHERE path = ?1"));
  st.bind(1, std::string_view(path));
  RK_TRY_ASSIGN(bool row, st.step());
  if (!row) return std::optional<ArchiveSummary>{};
  RK_TRY_ASSIGN(auto summary, load(st));
  if (!(summary.fingerprint == fingerprint)) return std::optional<ArchiveSummary>{};
  return std::optional<ArchiveSummary>(std::move(summary));
}

Result<ArchiveSummary> Index::load(Statement& r) {
  ArchiveSummary s;
  std::int64_t id = r.column_int(0);
  s.path = r.column_text(1);
  s.fingerprint.size = static_cast<std::uint64_t>(r.column_int(2));
  s.fingerprint.mtime_ns = r.column_int(3);
  s.fingerprint.head_tail = Digest128::from_hex(r.column_text(4)).value_or(Digest128{});
  s.kind = r.column_text(5) == "restorekit" ? BackupKind::kRestorekit : BackupKind::kForeign;
  s.archive.format = r.column_text(6);
  s.archive.format_detail = r.column_text(7);
  s.archive.filters = split(r.column_text(8));
  s.encrypted = r.column_int(9) != 0;
  s.entries = static_cast<std::uint64_t>(r.column_int(10));
  s.bytes = static_cast<std::uint64_t>(r.column_int(11));
  s.archive_bytes = static_cast<std::uint64_t>(r.column_int(12));
  s.document_files = static_cast<std::uint64_t>(r.column_int(13));
  s.document_bytes = static_cast<std::uint64_t>(r.column_int(14));
  if (r.column_type(15) != ValueType::kNull) s.oldest_mtime = r.column_int(15);
  if (r.column_type(16) != ValueType::kNull) s.newest_mtime = r.column_int(16);
  s.header_json = r.column_text(17);
  s.listed = r.column_int(18) != 0;
  if (!s.header_json.empty()) {
    if (auto h = parse_header(s.header_json)) s.header = std::move(*h);
  }
  RK_TRY(load_children(id, s));
  return s;
}

Result<void> Index::load_children(std::int64_t id, ArchiveSummary& s) {
  RK_TRY_ASSIGN(auto dbs, db_.prepare("SELECT entry, kind, bytes, user_version, page_size FROM "
                                      "databases WHERE archive_id = ?1 ORDER BY seq"));
  dbs.bind(1, id);
  RK_TRY(dbs.for_each([&]() -> Result<void> {
    s.databases.push_back(DatabaseInfo{std::string(dbs.column_text(0)),
                                       database_format_from_name(dbs.column_text(1)),
                                       static_cast<std::uint64_t>(dbs.column_int(2)),
                                       dbs.column_int(3),
                                       dbs.column_int(4),
                                       {},
                                       {}});
    return {};
  }));
  // Tables and tenants hang off their database by its position (db_seq).
  auto database_at = [&](std::int64_t seq) -> DatabaseInfo* {
    auto i = static_cast<std::size_t>(seq);
    return seq >= 0 && i < s.databases.size() ? &s.databases[i] : nullptr;
  };
  RK_TRY_ASSIGN(auto tables, db_.prepare("SELECT db_seq, name, rows FROM db_tables WHERE "
                                         "archive_id = ?1 ORDER BY db_seq, seq"));
  tables.bind(1, id);
  RK_TRY(tables.for_each([&]() -> Result<void> {
    if (auto* db = database_at(tables.column_int(0))) {
      db->tables.push_back(HeaderTable{std::string(tables.column_text(1)),
                                       static_cast<std::uint64_t>(tables.column_int(2))});
    }
    return {};
  }));
  RK_TRY_ASSIGN(auto tenants, db_.prepare("SELECT db_seq, id, label, rows FROM db_tenants WHERE "
                                          "archive_id = ?1 ORDER BY db_seq, seq"));
  tenants.bind(1, id);
  RK_TRY(tenants.for_each([&]() -> Result<void> {
    if (auto* db = database_at(tenants.column_int(0))) {
      db->tenants.push_back(TenantCount{std::string(tenants.column_text(1)),
                                        std::string(tenants.column_text(2)),
                                        static_cast<std::uint64_t>(tenants.column_int(3))});
    }
    return {};
  }));
  RK_TRY_ASSIGN(auto findings, db_.prepare("SELECT code, severity, entry, message FROM findings "
                                           "WHERE archive_id = ?1 ORDER BY seq"));
  findings.bind(1, id);
  return findings.for_each([&]() -> Result<void> {
    s.findings.push_back(
        Finding{std::string(findings.column_text(0)), severity_from_name(findings.column_text(1)),
                std::string(findings.column_text(2)), std::string(findings.column_text(3))});
    return {};
  });
}

Result<void> Index::in_transaction(const std::function<Result<void>()>& body) {
  RK_TRY(db_.exec("BEGIN IMMEDIATE"));
  auto result = body();
  if (!result) {
    (void)db_.exec("ROLLBACK");
    return result;
  }
  return db_.exec("COMMIT");
}

Result<void> Index::put(const ArchiveSummary& s, const EntryStore* entries) {
  return in_transaction([&]() -> Result<void> {
    RK_TRY(delete_archive(s.path));
    RK_TRY_ASSIGN(auto st, db_.prepare("INSERT INTO archives(path, size, mtime_ns, head_tail, "
                                       "kind, format, format_detail, filters, encrypted, "
                                       "entries, bytes, archive_bytes, document_files, "
                                       "document_bytes, oldest_mtime, newest_mtime, header_json, "
                                       "listed, indexed_at) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,"
                                       "?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)"));
    st.bind(1, std::string_view(s.path));
    st.bind(2, static_cast<std::int64_t>(s.fingerprint.size));
    st.bind(3, s.fingerprint.mtime_ns);
    st.bind(4, std::string_view(s.fingerprint.head_tail.hex()));
    st.bind(5, std::string_view(s.kind == BackupKind::kRestorekit ? "restorekit" : "foreign"));
    st.bind(6, std::string_view(s.archive.format));
    st.bind(7, std::string_view(s.archive.format_detail));
    st.bind(8, std::string_view(join(s.archive.filters)));
    st.bind(9, static_cast<std::int64_t>(s.encrypted));
    st.bind(10, static_cast<std::int64_t>(s.entries));
    st.bind(11, static_cast<std::int64_t>(s.bytes));
    st.bind(12, static_cast<std::int64_t>(s.archive_bytes));
    st.bind(13, static_cast<std::int64_t>(s.document_files));
    st.bind(14, static_cast<std::int64_t>(s.document_bytes));
    bind_optional(st, 15, s.oldest_mtime);
    bind_optional(st, 16, s.newest_mtime);
    st.bind(17, std::string_view(s.header_json));
    st.bind(18, static_cast<std::int64_t>(s.listed && entries != nullptr));
    st.bind(19, now_seconds());
    RK_TRY(st.run());
    RK_TRY_ASSIGN(std::int64_t id, db_.query_int("SELECT last_insert_rowid()"));
    RK_TRY(put_children(id, s));
    if (entries) RK_TRY(put_entries(id, *entries));
    return {};
  });
}

Result<void> Index::put_children(std::int64_t id, const ArchiveSummary& s) {
  RK_TRY_ASSIGN(auto dbs, db_.prepare("INSERT INTO databases VALUES(?1,?2,?3,?4,?5,?6,?7)"));
  RK_TRY_ASSIGN(auto tables, db_.prepare("INSERT INTO db_tables VALUES(?1,?2,?3,?4,?5)"));
  RK_TRY_ASSIGN(auto tenants, db_.prepare("INSERT INTO db_tenants VALUES(?1,?2,?3,?4,?5,?6)"));
  for (std::size_t i = 0; i < s.databases.size(); ++i) {
    const auto& d = s.databases[i];
    auto seq = static_cast<std::int64_t>(i);
    dbs.bind(1, id);
    dbs.bind(2, seq);
    dbs.bind(3, std::string_view(d.entry));
    dbs.bind(4, database_format_name(d.kind));
    dbs.bind(5, static_cast<std::int64_t>(d.bytes));
    dbs.bind(6, d.user_version);
    dbs.bind(7, d.page_size);
    RK_TRY(dbs.run());
    for (std::size_t k = 0; k < d.tables.size(); ++k) {
      tables.bind(1, id);
      tables.bind(2, seq);
      tables.bind(3, static_cast<std::int64_t>(k));
      tables.bind(4, std::string_view(d.tables[k].name));
      tables.bind(5, static_cast<std::int64_t>(d.tables[k].rows));
      RK_TRY(tables.run());
    }
    for (std::size_t k = 0; k < d.tenants.size(); ++k) {
      tenants.bind(1, id);
      tenants.bind(2, seq);
      tenants.bind(3, static_cast<std::int64_t>(k));
      tenants.bind(4, std::string_view(d.tenants[k].id));
      tenants.bind(5, std::string_view(d.tenants[k].label));
      tenants.bind(6, static_cast<std::int64_t>(d.tenants[k].rows));
      RK_TRY(tenants.run());
    }
  }
  RK_TRY_ASSIGN(auto findings, db_.prepare("INSERT INTO findings VALUES(?1,?2,?3,?4,?5,?6)"));
  for (std::size_t i = 0; i < s.findings.size(); ++i) {
    const auto& f = s.findings[i];
    findings.bind(1, id);
    findings.bind(2, static_cast<std::int64_t>(i));
    findings.bind(3, std::string_view(f.code));
    findings.bind(4, severity_name(f.severity));
    findings.bind(5, std::string_view(f.entry));
    findings.bind(6, std::string_view(f.message));
    RK_TRY(findings.run());
  }
  return {};
}

Result<void> Index::put_entries(std::int64_t id, const EntryStore& entries) {
  RK_TRY_ASSIGN(auto st, db_.prepare("INSERT INTO entries VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"));
  std::int64_t seq = 0;
  return entries.for_each([&](const StoredEntry& stored) -> Result<void> {
    const auto& e = stored.record;
    st.bind(1, id);
    st.bind(2, seq++);
    st.bind(3, std::string_view(e.path));
    st.bind(4, entry_type_name(e.type));
    bind_optional(
        st, 5,
        e.size ? std::optional<std::int64_t>(static_cast<std::int64_t>(*e.size)) : std::nullopt);
    st.bind(6, e.mtime);
    st.bind(7, static_cast<std::int64_t>(e.encrypted));
    st.bind(8, static_cast<std::int64_t>(e.safe));
    if (e.hash)
      st.bind(9, std::string_view(e.hash->hex()));
    else
      st.bind_null(9);
    auto slash = e.path.find_last_of('/', e.path.size() > 1 ? e.path.size() - 2 : 0);
    st.bind(10, std::string_view(e.path).substr(slash == std::string::npos ? 0 : slash + 1));
    return st.run();
  });
}

Result<std::vector<EntryRecord>> Index::entries(const std::string& path) {
  RK_TRY_ASSIGN(auto st, db_.prepare("SELECT e.path, e.type, e.size, e.mtime, e.encrypted, "
                                     "e.safe, e.hash FROM entries e JOIN archives a ON "
                                     "a.id = e.archive_id WHERE a.path = ?1 ORDER BY e.seq"));
  st.bind(1, std::string_view(path));
  std::vector<EntryRecord> out;
  RK_TRY(st.for_each([&]() -> Result<void> {
    EntryRecord e;
    e.path = st.column_text(0);
    e.type = type_from_name(st.column_text(1));
    if (st.column_type(2) != ValueType::kNull) {
      e.size = static_cast<std::uint64_t>(st.column_int(2));
    }
    e.mtime = st.column_int(3);
    e.encrypted = st.column_int(4) != 0;
    e.safe = st.column_int(5) != 0;
    if (st.column_type(6) != ValueType::kNull) e.hash = Digest128::from_hex(st.column_text(6));
    out.push_back(std::move(e));
    return {};
  }));
  return out;
}

Result<std::vector<Index::EntryMatch>> Index::find_entries(std::string_view glob,
                                                           std::size_t limit) {
  bool anywhere = glob.find('/') == std::string_view::npos;
  RK_TRY_ASSIGN(auto st, db_.prepare(fmt::format(
                             "SELECT a.path, e.path, e.type, e.size, e.mtime, e.encrypted, e.safe, "
                             "e.hash FROM entries e JOIN archives a ON a.id = e.archive_id WHERE "
                             "name_key(e.path) GLOB ?1{} ORDER BY a.path, e.seq LIMIT ?2",
                             anywhere ? " OR name_key(e.name) GLOB ?1" : "")));
  st.bind(1, name_key(glob));
  st.bind(2, static_cast<std::int64_t>(limit));
  std::vector<EntryMatch> out;
  RK_TRY(st.for_each([&]() -> Result<void> {
    EntryMatch m;
    m.archive = st.column_text(0);
    m.entry.path = st.column_text(1);
    m.entry.type = type_from_name(st.column_text(2));
    if (st.column_type(3) != ValueType::kNull) {
      m.entry.size = static_cast<std::uint64_t>(st.column_int(3));
    }
    m.entry.mtime = st.column_int(4);
    m.entry.encrypted = st.column_int(5) != 0;
    m.entry.safe = st.column_int(6) != 0;
    if (st.column_type(7) != ValueType::kNull)
      m.entry.hash = Digest128::from_hex(st.column_text(7));
    out.push_back(std::move(m));
    return {};
  }));
  return out;
}

Result<std::vector<ArchiveSummary>> Index::list() {
  RK_TRY_ASSIGN(auto st, db_.prepare("SELECT * FROM archives ORDER BY indexed_at DESC, id DESC"));
  std::vector<ArchiveSummary> out;
  RK_TRY(st.for_each([&]() -> Result<void> {
    RK_TRY_ASSIGN(auto s, load(st));
    out.push_back(std::move(s));
    return {};
  }));
  return out;
}

Result<void> Index::forget(const std::string& path) {
  return in_transaction([&] { return delete_archive(path); });
}

Result<std::optional<std::int64_t>> Index::archive_id(const std::string& path,
                                                      const Fingerprint& fingerprint) {
  RK_TRY_ASSIGN(auto st, db_.prepare("SELECT id, size, mtime_ns, head_tail FROM archives WHERE "
                                     "path = ?1"));
  st.bind(1, std::string_view(path));
  RK_TRY_ASSIGN(bool row, st.step());
  if (!row) return std::optional<std::int64_t>{};
  Fingerprint stored{static_cast<std::uint64_t>(st.column_int(1)), st.column_int(2),
                     Digest128::from_hex(st.column_text(3)).value_or(Digest128{})};
  if (!(stored == fingerprint)) return std::optional<std::int64_t>{};
  return std::optional<std::int64_t>(st.column_int(0));
}

Result<bool> Index::record_verification(const std::string& path, const Fingerprint& fingerprint,
                                        const EntryStore* listing, const Verification& v) {
  RK_TRY_ASSIGN(auto id, archive_id(path, fingerprint));
  if (!id) return false;
  auto recorded = in_transaction([&]() -> Result<void> {
    if (listing) {
      RK_TRY_ASSIGN(auto del, db_.prepare("DELETE FROM entries WHERE archive_id = ?1"));
      del.bind(1, *id);
      RK_TRY(del.run());
      RK_TRY(put_entries(*id, *listing));
      RK_TRY_ASSIGN(auto listed, db_.prepare("UPDATE archives SET listed = 1 WHERE id = ?1"));
      listed.bind(1, *id);
      RK_TRY(listed.run());
    }
    RK_TRY_ASSIGN(auto st, db_.prepare("INSERT OR REPLACE INTO verifications VALUES(?1, ?2, ?3, "
                                       "?4, ?5)"));
    st.bind(1, *id);
    st.bind(2, v.verified_at ? v.verified_at : now_seconds());
    st.bind(3, verdict_name(v.verdict));
    st.bind(4, static_cast<std::int64_t>(v.errors));
    st.bind(5, static_cast<std::int64_t>(v.warnings));
    return st.run();
  });
  RK_TRY(recorded);
  return true;
}

Result<std::optional<Verification>> Index::verification(const std::string& path) {
  RK_TRY_ASSIGN(auto st, db_.prepare("SELECT v.verified_at, v.verdict, v.errors, v.warnings FROM "
                                     "verifications v JOIN archives a ON a.id = v.archive_id "
                                     "WHERE a.path = ?1"));
  st.bind(1, std::string_view(path));
  RK_TRY_ASSIGN(bool row, st.step());
  if (!row) return std::optional<Verification>{};
  return std::optional<Verification>(Verification{
      st.column_int(0), verdict_from_name(st.column_text(1)),
      static_cast<std::uint64_t>(st.column_int(2)), static_cast<std::uint64_t>(st.column_int(3))});
}

std::filesystem::path Index::staged_dir() const {
  if (db_.path().empty() || db_.path() == ":memory:") return {};
  return std::filesystem::path(db_.path() + ".staged");
}

Result<std::optional<StagedCopy>> Index::staged_database(const std::string& path,
                                                         const Fingerprint& fingerprint) {
  RK_TRY_ASSIGN(auto st, db_.prepare("SELECT size, mtime_ns, head_tail, entry, file FROM staged "
                                     "WHERE path = ?1"));
  st.bind(1, std::string_view(path));
  RK_TRY_ASSIGN(bool row, st.step());
  if (!row) return std::optional<StagedCopy>{};
  Fingerprint stored{static_cast<std::uint64_t>(st.column_int(0)), st.column_int(1),
                     Digest128::from_hex(st.column_text(2)).value_or(Digest128{})};
  StagedCopy copy{std::string(st.column_text(3)), std::filesystem::path(st.column_text(4))};
  std::error_code ec;
  if (!(stored == fingerprint) || !std::filesystem::is_regular_file(copy.file, ec)) {
    return std::optional<StagedCopy>{};
  }
  RK_TRY_ASSIGN(auto used, db_.prepare("UPDATE staged SET used_at = ?2 WHERE path = ?1"));
  used.bind(1, std::string_view(path));
  used.bind(2, now_seconds());
  RK_TRY(used.run());
  return std::optional<StagedCopy>(std::move(copy));
}

Result<std::filesystem::path> Index::keep_staged_database(const std::string& path,
                                                          const Fingerprint& fingerprint,
                                                          const std::string& entry,
                                                          const std::filesystem::path& file) {
  auto dir = staged_dir();
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
    RK_TRY_ASSIGN(auto st, db_.prepare("INSERT OR REPLACE INTO staged VALUES(?1, ?2, ?3, ?4, ?5, "
                                       "?6, ?7)"));
    st.bind(1, std::string_view(path));
    st.bind(2, static_cast<std::int64_t>(fingerprint.size));
    st.bind(3, fingerprint.mtime_ns);
    st.bind(4, std::string_view(fingerprint.head_tail.hex()));
    st.bind(5, std::string_view(entry));
    st.bind(6, std::string_view(target.string()));
    st.bind(7, now_seconds());
    return st.run();
  });
  RK_TRY(kept);
  // Only the most recently used copies stay: they are as large as the databases.
  RK_TRY_ASSIGN(auto old, db_.prepare(fmt::format("SELECT path, file FROM staged ORDER BY used_at "
                                                  "DESC, rowid DESC LIMIT -1 OFFSET {}",
                                                  kMaxStagedCopies)));
  std::vector<std::pair<std::string, std::string>> drop;
  RK_TRY(old.for_each([&]() -> Result<void> {
    drop.emplace_back(old.column_text(0), old.column_text(1));
    return {};
  }));
  for (const auto& [p, f] : drop) {
    RK_TRY_ASSIGN(auto del, db_.prepare("DELETE FROM staged WHERE path = ?1"));
    del.bind(1, std::string_view(p));
    RK_TRY(del.run());
    if (f != target.string()) std::filesystem::remove(f, ec);
  }
  return target;
}

Result<void> Index::delete_archive(const std::string& path) {
  RK_TRY_ASSIGN(auto st, db_.prepare("SELECT id FROM archives WHERE path = ?1"));
  st.bind(1, std::string_view(path));
  RK_TRY_ASSIGN(bool row, st.step());
  if (!row) return {};
  std::int64_t id = st.column_int(0);
  for (auto table : kChildTables) {
    std::string_view key = table == "archives" ? "id" : "archive_id";
    RK_TRY_ASSIGN(auto del, db_.prepare(fmt::format("DELETE FROM {} WHERE {} = ?1", table, key)));
    del.bind(1, id);
    RK_TRY(del.run());
  }
  return {};
}

}  // namespace restorekit::catalog
