// verify's database checks run PRAGMA quick_check plus one integrity_check per table, and one
// foreign_key_check per table, on several connections at once (issue 14); on two workers or
// fewer, one whole integrity_check beside the foreign-key checks. These tests hold the split
// (3 threads) to the whole-file check (1 thread, and the reference run here): the same verdict,
// the same problems, the same foreign-key counts, on databases made by the stock sqlite3 shell
// and on other people's databases from the corpus.
#include "database_checks.hpp"

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <restorekit/core/sqlite.hpp>

#include "test_support.hpp"

namespace restorekit::verify::detail {
namespace {

namespace fs = std::filesystem;
using test::ScratchDir;

// The old way: one PRAGMA integrity_check on one connection.
std::set<std::string> whole_file_problems(const fs::path& db_path) {
  std::set<std::string> out;
  auto db = core::Database::open_untrusted(db_path);
  if (!db) return {db.error().message};
  auto st = db->prepare("PRAGMA integrity_check(100)");
  if (!st) return {st.error().message};
  auto done = st->for_each([&]() -> Result<void> {
    // One row may hold several problems, a line each, under a "*** in database" heading.
    std::istringstream lines{std::string(st->column_text(0))};
    for (std::string line; std::getline(lines, line);) {
      if (line != "ok" && !line.starts_with("*** in database")) out.insert(line);
    }
    return {};
  });
  if (!done) out.insert(done.error().message);
  return out;
}

std::map<std::pair<std::string, std::string>, std::uint64_t> whole_file_violations(
    const fs::path& db_path) {
  std::map<std::pair<std::string, std::string>, std::uint64_t> out;
  auto db = core::Database::open_untrusted(db_path);
  if (!db) return out;
  auto st =
      db->prepare("SELECT \"table\", parent, count(*) FROM pragma_foreign_key_check GROUP BY 1, 2");
  if (!st) return out;
  (void)st->for_each([&]() -> Result<void> {
    out[{std::string(st->column_text(0)), std::string(st->column_text(1))}] +=
        static_cast<std::uint64_t>(st->column_int(2));
    return {};
  });
  return out;
}

std::map<std::pair<std::string, std::string>, std::uint64_t> split_violations(
    const DatabaseCheck& check, const std::string& entry) {
  std::map<std::pair<std::string, std::string>, std::uint64_t> out;
  for (const auto& f : check.findings) {
    if (f.code != "DB_FOREIGN_KEY") continue;
    // "N row(s) of table T in E reference(s) missing rows of P (...)"
    std::uint64_t n = std::stoull(f.message);
    auto table = f.entry.substr(entry.size() + 1);
    auto of = f.message.find("missing rows of ");
    auto parent = f.message.substr(of + 16, f.message.find(" (declared") - of - 16);
    out[{table, parent}] += n;
  }
  return out;
}

// Checks `db_path` with 1, 2 and 3 threads against the whole-file check; returns the 3-thread
// result for further assertions.
DatabaseCheck cross_check(const fs::path& db_path) {
  const std::string entry = db_path.filename().string();
  auto reference = whole_file_problems(db_path);
  auto one = check_database(db_path, entry, false, std::nullopt, 1, CancelToken{});
  auto two = check_database(db_path, entry, false, std::nullopt, 2, CancelToken{});
  auto three = check_database(db_path, entry, false, std::nullopt, 3, CancelToken{});
  EXPECT_EQ(one.integrity_problems, three.integrity_problems) << entry;
  EXPECT_EQ(two.integrity_problems, three.integrity_problems) << entry;
  EXPECT_EQ(three.result.integrity_ok, reference.empty()) << entry;
  std::set<std::string> split(three.integrity_problems.begin(), three.integrity_problems.end());
  if (reference.size() < 20) {
    EXPECT_EQ(split, reference) << entry;
  } else {
    EXPECT_EQ(split.size(), 20u) << entry;
  }
  // A damaged file's foreign keys are not judged: rows read through damaged pages prove
  // nothing about missing parents.
  if (reference.empty()) {
    EXPECT_EQ(split_violations(three, entry), whole_file_violations(db_path)) << entry;
  } else {
    EXPECT_TRUE(split_violations(three, entry).empty()) << entry;
  }
  EXPECT_EQ(one.result.foreign_key_violations, three.result.foreign_key_violations) << entry;
  EXPECT_EQ(two.result.foreign_key_violations, three.result.foreign_key_violations) << entry;
  std::vector<std::string> one_codes, two_codes, three_codes;
  for (const auto& f : one.findings) one_codes.push_back(f.code + ": " + f.message);
  for (const auto& f : two.findings) two_codes.push_back(f.code + ": " + f.message);
  for (const auto& f : three.findings) three_codes.push_back(f.code + ": " + f.message);
  EXPECT_EQ(one_codes, three_codes) << entry;
  EXPECT_EQ(two_codes, three_codes) << entry;
  return three;
}

void overwrite(const fs::path& file, std::uint64_t offset, const std::string& bytes) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class DatabaseChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::have_tool("sqlite3")) GTEST_SKIP() << "SKIPPED: the sqlite3 shell is not installed";
    db_ = dir_ / "crm.sqlite";
    // Text-heavy rows, a composite key without rowid, a table with no key, an odd name, a
    // full-text index, BLOBs, and rows that break declared foreign keys in two tables.
    test::sqlite3_shell(db_, R"(
      PRAGMA page_size = 1024;
      CREATE TABLE accounts(id INTEGER PRIMARY KEY, name TEXT, email TEXT UNIQUE);
      CREATE TABLE contacts(account_id INTEGER REFERENCES accounts(id), seq INTEGER,
                            bio TEXT, PRIMARY KEY(account_id, seq)) WITHOUT ROWID;
      CREATE TABLE "we""ird) name"(at TEXT, account_id INTEGER REFERENCES accounts(id), note TEXT);
      CREATE INDEX by_account ON "we""ird) name"(account_id, at);
      CREATE TABLE files(id INTEGER PRIMARY KEY, data BLOB);
      CREATE VIRTUAL TABLE notes USING fts5(body);
      WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000)
      INSERT INTO accounts SELECT i, 'Name ' || hex(randomblob(8)), 'u' || i || '@example.com'
        FROM c;
      WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 6000)
      INSERT INTO contacts SELECT 1 + (i % 3010), i, hex(randomblob(40)) FROM c;
      WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 6000)
      INSERT INTO "we""ird) name" SELECT datetime(1600000000 + i * 60, 'unixepoch'),
        1 + (i * 31 % 3005), hex(randomblob(30)) FROM c;
      WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200)
      INSERT INTO files SELECT i, randomblob(2000 + i) FROM c;
      INSERT INTO notes SELECT bio FROM contacts LIMIT 500;
      DELETE FROM files WHERE id % 2 = 0;
    )");
  }
  ScratchDir dir_;
  fs::path db_;
};

TEST_F(DatabaseChecks, AnIntactDatabaseAgreesWithTheWholeFileCheck) {
  auto r = cross_check(db_);
  EXPECT_TRUE(r.result.integrity_ok);
  // contacts point at accounts 3001..3009, the odd table at 3001..3004: both are reported.
  EXPECT_GT(r.result.foreign_key_violations, 0u);
  EXPECT_EQ(split_violations(r, "crm.sqlite").size(), 2u);
}

// The caller's token reaches every connection the checks open (the integrity checks of the
// workers included): once tripped, none of them reports a clean pass it did not finish.
TEST_F(DatabaseChecks, ACancelledTokenStopsEveryCheckConnection) {
  CancelToken token;
  token.cancel();
  for (unsigned threads : {1u, 3u}) {
    auto r = check_database(db_, "crm.sqlite", false, std::nullopt, threads, token);
    EXPECT_FALSE(r.result.integrity_ok) << threads << " threads";
    ASSERT_FALSE(r.integrity_problems.empty());
    EXPECT_NE(r.integrity_problems.front().find("cancelled"), std::string::npos)
        << r.integrity_problems.front();
  }
}

TEST_F(DatabaseChecks, PagesNoTableUsesAreFoundThoughEveryTableIsIntact) {
  // Forget the freelist: its pages become pages nothing uses, which only the file-wide
  // accounting (not a table's own check) can see.
  overwrite(db_, 32, std::string(8, '\0'));
  auto r = cross_check(db_);
  EXPECT_FALSE(r.result.integrity_ok);
  ASSERT_FALSE(r.integrity_problems.empty());
  EXPECT_NE(r.integrity_problems.front().find("never used"), std::string::npos)
      << r.integrity_problems.front();
}

TEST_F(DatabaseChecks, AnIndexThatDisagreesWithItsTableIsFound) {
  // The index's definition now names another column than the one its entries hold: quick_check
  // cannot see that, the table's own integrity_check must.
  test::sqlite3_shell(db_, R"(
    PRAGMA writable_schema = ON;
    UPDATE sqlite_schema SET sql = 'CREATE INDEX by_account ON "we""ird) name"(note, at)'
      WHERE name = 'by_account';
  )");
  auto r = cross_check(db_);
  EXPECT_FALSE(r.result.integrity_ok);
  ASSERT_FALSE(r.integrity_problems.empty());
  EXPECT_NE(r.integrity_problems.front().find("by_account"), std::string::npos)
      << r.integrity_problems.front();
}

TEST_F(DatabaseChecks, AJunkPageIsFoundWhicheverTableHoldsIt) {
  for (std::uint64_t page : {3u, 40u, 200u}) {
    fs::path copy = dir_ / fmt::format("junk-{}.sqlite", page);
    fs::copy_file(db_, copy);
    overwrite(copy, (page - 1) * 1024 + 8, std::string(300, '\x5a'));
    auto r = cross_check(copy);
    EXPECT_FALSE(r.result.integrity_ok) << "page " << page;
  }
}

// Past 256 tables the split would cost more than it saves (each table's check walks the whole
// schema): the whole-file checks run instead, and must still find what they find.
TEST(DatabaseChecksMany, AThousandTablesAgreeWithTheWholeFileCheck) {
  if (!test::have_tool("sqlite3")) GTEST_SKIP() << "SKIPPED: the sqlite3 shell is not installed";
  ScratchDir dir;
  std::string sql = "PRAGMA page_size = 1024; BEGIN; CREATE TABLE p(id INTEGER PRIMARY KEY);";
  for (int i = 0; i < 1000; ++i) {
    sql += fmt::format(
        "CREATE TABLE t{0}(id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id), v TEXT);"
        "INSERT INTO t{0} VALUES(1, {1}, 'row of table {0}');",
        i, i % 100 == 0 ? 7 : 0);
  }
  sql += "COMMIT;";
  auto db = dir / "many.sqlite";
  test::sqlite3_shell(db, sql);
  auto r = cross_check(db);
  EXPECT_TRUE(r.result.integrity_ok);
  EXPECT_EQ(r.result.foreign_key_violations, 1000u);  // every table's p = 0 or 7, never a row
  // Dropped tables leave their pages on the freelist; forgetting the freelist leaves them used
  // by nothing, which only the file-wide check sees.
  test::sqlite3_shell(db, "DROP TABLE t998; DROP TABLE t999;");
  overwrite(db, 32, std::string(8, '\0'));
  EXPECT_FALSE(cross_check(db).result.integrity_ok);
}

TEST(DatabaseChecksCorpus, OtherPeoplesDatabasesAgreeWithTheWholeFileCheck) {
  auto corpus = test::corpus_dir();
  if (!corpus) GTEST_SKIP() << "SKIPPED: ../shared/corpus is absent (set RESTOREKIT_CORPUS_DIR)";
  int checked = 0;
  for (const auto& e : fs::directory_iterator(*corpus / "sqlite")) {
    if (e.path().extension() != ".sqlite") continue;
    cross_check(e.path());
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace restorekit::verify::detail
