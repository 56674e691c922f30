#include <restorekit/core/sqlite.hpp>

#include <restorekit/core/content_hash.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <functional>
#include <thread>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace restorekit::core {
namespace {

using test::ScratchDir;

constexpr const char* kSchema = R"sql(
CREATE TABLE companies(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE persons(id INTEGER PRIMARY KEY, company_id INTEGER REFERENCES companies(id),
  name TEXT);
CREATE TABLE tags(person_id INTEGER, tag TEXT, company_id INTEGER,
  PRIMARY KEY(person_id, tag));
CREATE TABLE settings(company_id INTEGER, key TEXT, value, PRIMARY KEY(company_id, key))
  WITHOUT ROWID;
CREATE TABLE log(company_id INTEGER, line TEXT);
CREATE TABLE "we""ird name"(x);
CREATE VIEW v AS SELECT * FROM persons;
CREATE TRIGGER t AFTER INSERT ON log BEGIN INSERT INTO log VALUES(0, 'fired'); END;
INSERT INTO companies VALUES(1, 'Acme'), (2, 'Zeta'), (10, 'Ten');
INSERT INTO persons VALUES(1, 1, 'a'), (2, 1, 'b'), (3, 2, 'c'), (4, 10, 'd');
INSERT INTO tags VALUES(1, 'vip', 1), (1, 'new', 1);
INSERT INTO settings VALUES(1, 'k', 'v');
INSERT INTO "we""ird name" VALUES(1);
PRAGMA user_version = 42;
)sql";

std::filesystem::path make_db(const ScratchDir& dir) {
  auto path = dir / "app.sqlite";
  auto db = Database::open(path, OpenMode::kCreate);
  EXPECT_TRUE(db);
  EXPECT_TRUE(db->exec(kSchema));
  return path;
}

TEST(BindTyped, ANumberExactlyAsTypedIsAnIntegerAnythingElseText) {
  auto db = Database::open_memory();
  ASSERT_TRUE(db);
  for (auto [text, type] :
       std::vector<std::pair<std::string, std::string>>{{"42", "integer"},
                                                        {"-7", "integer"},
                                                        {"042", "text"},
                                                        {"4 2", "text"},
                                                        {"x", "text"},
                                                        {"99999999999999999999", "text"},
                                                        {"", "text"},
                                                        {"+5", "text"}}) {
    auto st = db->prepare("SELECT typeof(?1)");
    ASSERT_TRUE(st);
    bind_typed(*st, 1, text);
    ASSERT_TRUE(st->step().value_or(false));
    EXPECT_EQ(st->column_text(0), type) << "\"" << text << "\"";
  }
  auto dup = db->prepare_single("SELECT 1; SELECT 2");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(db->prepare_single("SELECT 1;  \n"));
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

TEST(DescribeDatabase, ReadsTablesKeysAndCounts) {
  ScratchDir dir;
  auto db = Database::open_untrusted(make_db(dir));
  ASSERT_TRUE(db) << db.error().message;
  auto s = describe_database(*db);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->user_version, 42);
  EXPECT_EQ(s->page_size, 4096);
  ASSERT_EQ(s->tables.size(), 6u);
  EXPECT_EQ(find_table(*s, "persons")->rows, 4u);
  EXPECT_EQ(find_table(*s, "persons")->primary_key, std::vector<std::string>{"id"});
  ASSERT_EQ(find_table(*s, "persons")->foreign_keys.size(), 1u);
  EXPECT_EQ(find_table(*s, "persons")->foreign_keys[0].table, "companies");
  EXPECT_EQ(find_table(*s, "tags")->primary_key, (std::vector<std::string>{"person_id", "tag"}));
  EXPECT_TRUE(find_table(*s, "settings")->without_rowid);
  EXPECT_FALSE(find_table(*s, "persons")->without_rowid);
  EXPECT_TRUE(find_table(*s, "log")->primary_key.empty());
  EXPECT_EQ(find_table(*s, "we\"ird name")->rows, 1u);
  bool view = false;
  bool trigger = false;
  for (const auto& o : s->objects) {
    view = view || (o.type == "view" && o.name == "v");
    trigger = trigger || (o.type == "trigger" && o.name == "t");
  }
  EXPECT_TRUE(view);
  EXPECT_TRUE(trigger);
}

// describe_table() gives one table as describe_database() does (its rows not counted), by any
// case of its name; views and missing tables are not tables.
TEST(DescribeDatabase, OneTableIsDescribedAsInTheWholeSummary) {
  ScratchDir dir;
  auto db = Database::open_untrusted(make_db(dir));
  ASSERT_TRUE(db) << db.error().message;
  auto s = describe_database(*db, CountRows::kNo);
  ASSERT_TRUE(s) << s.error().message;
  for (const auto& whole : s->tables) {
    for (const auto& name : {whole.name, upper(whole.name)}) {
      auto one = describe_table(*db, name);
      ASSERT_TRUE(one) << name << ": " << one.error().message;
      EXPECT_EQ(one->name, whole.name);
      EXPECT_EQ(one->without_rowid, whole.without_rowid) << name;
      EXPECT_EQ(one->primary_key, whole.primary_key) << name;
      EXPECT_EQ(one->columns.size(), whole.columns.size()) << name;
      EXPECT_EQ(one->sql, whole.sql) << name;
      ASSERT_EQ(one->foreign_keys.size(), whole.foreign_keys.size()) << name;
      for (std::size_t i = 0; i < whole.foreign_keys.size(); ++i) {
        EXPECT_EQ(one->foreign_keys[i].table, whole.foreign_keys[i].table) << name;
        EXPECT_EQ(one->foreign_keys[i].from, whole.foreign_keys[i].from) << name;
      }
    }
  }
  for (const char* none : {"v", "nowhere", "sqlite_schema"}) {
    auto missing = describe_table(*db, none);
    ASSERT_FALSE(missing) << none;
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound) << none;
  }
}

TEST(OpenUntrusted, IsReadOnlyAndDefensive) {
  ScratchDir dir;
  auto db = Database::open_untrusted(make_db(dir));
  ASSERT_TRUE(db);
  EXPECT_FALSE(db->exec("INSERT INTO log VALUES(1, 'x')"));
  EXPECT_FALSE(db->exec("ATTACH 'other.db' AS o"));
  EXPECT_FALSE(db->exec("SELECT load_extension('/tmp/evil.so')"));
  EXPECT_FALSE(db->prepare("SELECT * FROM v")) << "views must not be evaluated";
  EXPECT_FALSE(std::filesystem::exists(dir / "other.db"));
}

TEST(OpenUntrusted, RefusesAFileThatIsNoDatabase) {
  ScratchDir dir;
  test::write_file(dir / "fake.sqlite", std::string(8192, 'x'));
  auto db = Database::open_untrusted(dir / "fake.sqlite");
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code, ErrorCode::kDatabase);
  EXPECT_NE(db.error().message.find("fake.sqlite"), std::string::npos);
  auto missing = Database::open_untrusted(dir / "missing.sqlite");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

// A FIFO blocked SQLite's open() for ever (it retries on EINTR: no signal ended it), and a device
// read as an empty database. Both are refused by name before SQLite sees them; the opens run in
// a child that an alarm ends, so that a regression fails instead of hanging the suite.
TEST(OpenDatabase, AFifoOrADeviceIsRefusedAtOnce) {
  ScratchDir dir;
  auto fifo = dir / "live.sqlite";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const auto& [path, kind] : std::vector<std::pair<std::filesystem::path, std::string>>{
           {fifo, "a FIFO"}, {"/dev/null", "a character device"}}) {
    SCOPED_TRACE(path.string());
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::alarm(10);
      auto rw = Database::open(path, OpenMode::kReadOnly);
      auto untrusted = Database::open_untrusted(path);
      bool named = !rw && !untrusted && rw.error().message.find(kind) != std::string::npos &&
                   untrusted.error().message.find(path.string()) != std::string::npos &&
                   rw.error().code == ErrorCode::kInvalidArgument;
      ::_exit(named ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status)) << "the open hung (ended by signal " << WTERMSIG(status) << ")";
    EXPECT_EQ(WEXITSTATUS(status), 0) << "not refused as " << kind;
  }
}

TEST(OpenUntrusted, NeverCreatesWalOrJournalFiles) {
  ScratchDir dir;
  auto path = dir / "wal.sqlite";
  {
    auto db = Database::open(path, OpenMode::kCreate);
    ASSERT_TRUE(db->exec("PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES(1);"));
  }
  std::filesystem::remove(dir / "wal.sqlite-wal");
  std::filesystem::remove(dir / "wal.sqlite-shm");
  auto db = Database::open_untrusted(path);
  ASSERT_TRUE(db);
  EXPECT_EQ(*db->query_int("SELECT count(*) FROM t"), 1);
  EXPECT_FALSE(std::filesystem::exists(dir / "wal.sqlite-shm"));
  EXPECT_FALSE(std::filesystem::exists(dir / "wal.sqlite-wal"));
}

TEST(CountTenants, SumsRowsPerTenantWithLabelsInNumericOrder) {
  ScratchDir dir;
  auto db = Database::open_untrusted(make_db(dir));
  auto s = describe_database(*db);
  auto tenants = count_tenants(*db, *s, TenantSpec{"company_id", "companies", "id", "name"});
  ASSERT_TRUE(tenants) << tenants.error().message;
  ASSERT_EQ(tenants->size(), 3u);
  EXPECT_EQ((*tenants)[0].id, "1");
  EXPECT_EQ((*tenants)[0].label, "Acme");
  EXPECT_EQ((*tenants)[0].rows, 1u + 2 + 2 + 1);  // company row, persons, tags, settings
  EXPECT_EQ((*tenants)[1].id, "2");
  EXPECT_EQ((*tenants)[2].id, "10");
  auto none = count_tenants(*db, *s, TenantSpec{"no_such_column", {}, "id", {}});
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no_such_column"), std::string::npos);
}

// Counts to a billion: minutes of work, unless something stops it.
constexpr const char* kEndlessQuery =
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) "
    "SELECT count(*) FROM c";

// Runs kEndlessQuery on `db` while another thread calls `trip` after 50 ms.
// @return the query's error and how long it ran.
std::pair<Result<std::int64_t>, std::chrono::duration<double>> stopped_query(
    Database& db, const std::function<void()>& trip) {
  std::thread tripper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    trip();
  });
  auto start = std::chrono::steady_clock::now();
  auto result = db.query_int(kEndlessQuery);
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  tripper.join();
  return {result, took};
}

TEST(QueryCancel, AnOperationsTokenStopsARunningQueryOnItsConnectionOnly) {
  auto db = Database::open_memory();
  auto other = Database::open_memory();
  ASSERT_TRUE(db && other);
  CancelToken token;
  db->stop_when(token);
  auto [result, took] = stopped_query(*db, [&] { token.cancel(); });
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::kCancelled) << result.error().message;
  EXPECT_LT(took.count(), 10.0);
  auto refused = db->query_int("SELECT 1");
  ASSERT_FALSE(refused.has_value()) << "a tripped token stops later statements too";
  EXPECT_EQ(refused.error().code, ErrorCode::kCancelled);
  EXPECT_EQ(other->query_int("SELECT 1").value_or(0), 1) << "other connections go on";
}

TEST(QueryCancel, TheProcessTokenStopsEveryConnectionEvenOneOpenedBeforeItWasSet) {
  auto db = Database::open_memory();
  ASSERT_TRUE(db);
  CancelToken token;
  auto [result, took] = stopped_query(*db, [&] {
    set_query_cancel(token);  // while the query runs
    token.cancel();
  });
  set_query_cancel(CancelToken());
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::kCancelled) << result.error().message;
  EXPECT_LT(took.count(), 10.0);
  EXPECT_EQ(db->query_int("SELECT 1").value_or(0), 1) << "a fresh process token lets work go on";
}

TEST(QueryCancel, AnOperationsTokenMovesWithItsConnection) {
  CancelToken token;
  auto opened = Database::open_memory();
  ASSERT_TRUE(opened);
  opened->stop_when(token);
  Database moved = std::move(*opened);
  token.cancel();
  auto refused = moved.query_int("SELECT 1");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kCancelled);
}

TEST(QuoteIdentifier, DoublesQuotes) {
  EXPECT_EQ(quote_identifier("plain"), "\"plain\"");
  EXPECT_EQ(quote_identifier("a\"b"), "\"a\"\"b\"");
}

TEST(HasSqliteMagic, RecognisesTheHeader) {
  std::string good("SQLite format 3\0rest", 20);
  EXPECT_TRUE(has_sqlite_magic(std::as_bytes(std::span(good))));
  std::string bad = "SQLite format 2 and more";
  EXPECT_FALSE(has_sqlite_magic(std::as_bytes(std::span(bad))));
}

TEST(SnapshotDatabase, CopiesContentAndRefusesToOverwrite) {
  ScratchDir dir;
  auto src = make_db(dir);
  ASSERT_TRUE(snapshot_database(src, dir / "copy.sqlite"));
  auto db = Database::open_untrusted(dir / "copy.sqlite");
  ASSERT_TRUE(db);
  EXPECT_EQ(*db->query_int("SELECT count(*) FROM persons"), 4);
  EXPECT_FALSE(snapshot_database(src, dir / "copy.sqlite"));
  auto missing = snapshot_database(dir / "missing.sqlite", dir / "x.sqlite");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST(DescribeDatabase, WorksOnEveryCorpusDatabase) {
  auto corpus = test::corpus_dir();
  if (!corpus) GTEST_SKIP() << "SKIPPED: corpus not found (set RESTOREKIT_CORPUS)";
  int described = 0;
  for (const auto& e : std::filesystem::directory_iterator(*corpus / "sqlite")) {
    if (e.path().extension() != ".sqlite" && e.path().extension() != ".db") continue;
    auto db = Database::open_untrusted(e.path());
    ASSERT_TRUE(db) << e.path() << ": " << db.error().message;
    auto s = describe_database(*db);
    ASSERT_TRUE(s) << e.path() << ": " << s.error().message;
    EXPECT_FALSE(s->tables.empty()) << e.path();
    ++described;
  }
  EXPECT_EQ(described, 3);
  // Row counts and page sizes that corpus/sqlite/SOURCES.md documents.
  auto chinook = Database::open_untrusted(*corpus / "sqlite" / "Chinook_Sqlite.sqlite");
  ASSERT_TRUE(chinook);
  auto cs = describe_database(*chinook);
  ASSERT_TRUE(cs);
  EXPECT_EQ(find_table(*cs, "Track")->rows, 3503u);
  EXPECT_EQ(find_table(*cs, "PlaylistTrack")->rows, 8715u);
  auto northwind = Database::open_untrusted(*corpus / "sqlite" / "Northwind_small.sqlite");
  ASSERT_TRUE(northwind);
  auto ns = describe_database(*northwind);
  ASSERT_TRUE(ns);
  EXPECT_EQ(ns->page_size, 1024);
  EXPECT_EQ(find_table(*ns, "Order")->rows, 830u);
  EXPECT_EQ(find_table(*ns, "sqlite_stat1"), nullptr);
}

// The content hash is in plans and journals that another restorekit may read: its value for the
// same content never changes. The digest was made by restorekit 4ccbd09 (before values were
// read as cells and fed through a plain buffer) on this content: every storage class, empty
// and 70,000-byte values (past the feed's block), -0.0, the extreme integer, a WITHOUT ROWID
// table and an index.
TEST(ContentHash, IsTheSameAsEverForTheSameContent) {
  ScratchDir dir;
  auto db = Database::open(dir / "edge.sqlite", OpenMode::kCreate);
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->exec(R"sql(
CREATE TABLE t(a, b, c);
INSERT INTO t VALUES (1, 2.5, 'x'), (NULL, x'', ''), (-9223372036854775808, 1e308, x'00ff'),
  (3, 0.0, zeroblob(70000)), (4, 'text', printf('%.*c', 70000, 'y')), (5, -0.0, 'ümlaut');
CREATE TABLE w(k TEXT PRIMARY KEY, v) WITHOUT ROWID;
INSERT INTO w VALUES ('b', 1), ('a', NULL);
CREATE INDEX t_b ON t(b);
)sql"));
  auto hash = content_hash(*db);
  ASSERT_TRUE(hash) << hash.error().message;
  EXPECT_EQ(hash->hex(), "81f8b52f0660573169af4416b008c45b");
}

}  // namespace
}  // namespace restorekit::core
