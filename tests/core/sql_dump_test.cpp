#include <restorekit/core/sql_dump.hpp>

#include <gtest/gtest.h>

#include <restorekit/core/sqlite.hpp>

#include "test_support.hpp"

namespace restorekit::core {
namespace {

using test::ScratchDir;

TEST(LooksLikeSqlDump, NeedsTheExtensionAndAStatement) {
  EXPECT_TRUE(looks_like_sql_dump("backup/app.sql", "PRAGMA foreign_keys=OFF;\nBEGIN"));
  EXPECT_TRUE(looks_like_sql_dump("x.SQL", "-- dump\n\nCREATE TABLE t(x);"));
  EXPECT_FALSE(looks_like_sql_dump("notes.txt", "CREATE TABLE t(x);"));
  EXPECT_FALSE(looks_like_sql_dump("x.sql", "Hello, this is prose."));
  EXPECT_FALSE(looks_like_sql_dump("sql", "CREATE TABLE t(x);"));
  EXPECT_FALSE(looks_like_sql_dump("x.sql.txt", "CREATE TABLE t(x);"));
}

TEST(NamedLikeDatabase, ByItsExtensionInAnyCase) {
  for (const char* yes : {"app.db", "data/APP.Sqlite3", "x.S3DB", "dump.Sql", "a/b.db3", ".db"}) {
    EXPECT_TRUE(named_like_database(yes)) << yes;
  }
  for (const char* no : {"db", "app.db.txt", "app-db", "sqlite", "x.sqlite4", "a.d"}) {
    EXPECT_FALSE(named_like_database(no)) << no;
  }
}

TEST(LoadSqlDump, LoadsWhatSqlite3DumpWrites) {
  RK_REQUIRE_TOOL("sqlite3");
  ScratchDir dir;
  const auto& s = test::small_sample();
  ASSERT_EQ(test::sh("sqlite3 '" + s.database.string() + "' .dump > dump.sql", dir.path()), 0);
  ASSERT_TRUE(load_sql_dump(dir / "dump.sql", dir / "out.sqlite", "dump.sql"));
  auto original = Database::open_untrusted(s.database);
  auto loaded = Database::open_untrusted(dir / "out.sqlite");
  ASSERT_TRUE(original && loaded);
  for (const char* table : {"persons", "appointments", "settings", "audit_log"}) {
    std::string q = std::string("SELECT count(*) FROM ") + table;
    EXPECT_EQ(*original->query_int(q), *loaded->query_int(q)) << table;
  }
}

TEST(LoadSqlDump, RefusesAttachAndWritableSchema) {
  ScratchDir dir;
  for (std::string evil :
       {"ATTACH '" + (dir / "evil.db").string() + "' AS e;",
        std::string("PRAGMA writable_schema=ON;"), std::string("SELECT load_extension('x');")}) {
    test::write_file(dir / "d.sql", "CREATE TABLE t(x);\n" + evil + "\n");
    std::filesystem::remove(dir / "out.sqlite");
    auto r = load_sql_dump(dir / "d.sql", dir / "out.sqlite", "d.sql");
    ASSERT_FALSE(r) << evil;
    EXPECT_NE(r.error().message.find("statement 2"), std::string::npos) << r.error().message;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "evil.db"));
}

TEST(LoadSqlDump, RunawayStatementsAreStopped) {
  ScratchDir dir;
  for (std::string evil :
       {std::string("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) "
                    "INSERT INTO t SELECT x FROM c;"),
        std::string("INSERT INTO t VALUES(randomblob(500000000));"),
        std::string("INSERT INTO t SELECT 1 FROM t a, t b, t c, t d, t e, t f, t g;")}) {
    test::write_file(dir / "d.sql",
                     "CREATE TABLE t(x);\nINSERT INTO t VALUES(1),(2),(3),(4),"
                     "(5),(6),(7),(8),(9),(10),(11),(12),(13),(14),(15);\n" +
                         evil + "\n");
    std::filesystem::remove(dir / "out.sqlite");
    auto r = load_sql_dump(dir / "d.sql", dir / "out.sqlite", "d.sql");
    EXPECT_FALSE(r) << evil;
  }
}

TEST(LoadSqlDump, TriggersInADumpNeverFire) {
  ScratchDir dir;
  test::write_file(dir / "d.sql",
                   "CREATE TABLE t(x);\nCREATE TABLE log(y);\n"
                   "CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log VALUES(1); END;\n"
                   "INSERT INTO t VALUES(1);\n");
  ASSERT_TRUE(load_sql_dump(dir / "d.sql", dir / "out.sqlite", "d.sql"));
  auto db = Database::open_untrusted(dir / "out.sqlite");
  EXPECT_EQ(*db->query_int("SELECT count(*) FROM log"), 0);
}

TEST(LoadSqlDump, StopsAtTheSizeLimit) {
  ScratchDir dir;
  std::string dump = "CREATE TABLE t(x);\n";
  for (int i = 0; i < 200; ++i) dump += "INSERT INTO t VALUES(randomblob(10000));\n";
  test::write_file(dir / "d.sql", dump);
  auto r = load_sql_dump(dir / "d.sql", dir / "out.sqlite", "d.sql", 256 * 1024);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kLimitExceeded);
}

}  // namespace
}  // namespace restorekit::core
