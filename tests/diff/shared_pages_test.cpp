// A diff leaves out the rows in B-tree pages both files hold byte for byte (diff/src/
// shared_rows.cpp reads the pages from the files). Cross-checked here against reading every row
// (DiffOptions::every_row) and against sqldiff, on databases made by the sqlite3 shell: rowid
// tables, a keyless one, a composite key over a rowid table, WITHOUT ROWID tables with integer,
// text and composite keys, blobs that spill to overflow pages, three page sizes; and on
// damaged files and a live file whose latest rows are still in its -wal.
#include <restorekit/diff/diff.hpp>

#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <restorekit/core/sqlite.hpp>

#include "diff_test_support.hpp"
#include "shared_rows.hpp"
#include "test_support.hpp"

namespace restorekit::diff {
namespace {

using test::ScratchDir;
namespace fs = std::filesystem;

void sqlite3(const fs::path& db, const std::string& sql) {
  auto r = test::run({"sqlite3", db.string(), sql});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

// The backup: six tables of a few hundred pages, made by the sqlite3 shell.
std::string backup_sql(int page_size) {
  return fmt::format(R"(
PRAGMA page_size = {};
CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT, bio TEXT, tenant INTEGER);
CREATE TABLE log(at TEXT, what TEXT);
CREATE TABLE visits(person INTEGER, day TEXT, note TEXT, tenant INTEGER, PRIMARY KEY(person, day));
CREATE TABLE pairs(a INTEGER, b TEXT, v TEXT, tenant INTEGER, PRIMARY KEY(a, b)) WITHOUT ROWID;
CREATE TABLE words(w TEXT PRIMARY KEY, n REAL) WITHOUT ROWID;
CREATE TABLE files(id INTEGER PRIMARY KEY, data BLOB);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000)
INSERT INTO people SELECT i, 'person ' || i, hex(randomblob(60 + i % 90)), i % 7 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
INSERT INTO log SELECT datetime(1700000000 + i * 61, 'unixepoch'), hex(randomblob(30)) FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 8000)
INSERT INTO visits SELECT 1 + i * 7919 % 6000, date(1700000000 + i * 86400, 'unixepoch'),
  hex(randomblob(40)), i % 5 FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 7999)
INSERT INTO pairs SELECT 1 + i % 500, 'k' || (i / 500), hex(randomblob(50)), i % 3 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000)
INSERT INTO words SELECT 'word-' || (i * 2654435761 % 1000003), i / 7.0 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150)
INSERT INTO files SELECT i, randomblob(1000 + i * 97 % 9000) FROM n;
COMMIT;
)",
                     page_size);
}

// The live copy a day later: updates in place and growing, deletes, inserts in the middle and
// at the end, blobs rewritten at the same size (SQLite then overwrites the overflow pages in
// place: where the part kept in the leaf is unchanged, only the overflow pages differ).
const char* kChanges = R"(
BEGIN;
UPDATE people SET bio = lower(bio) WHERE id % 97 = 0;
UPDATE people SET bio = bio || bio WHERE id % 401 = 0;
DELETE FROM people WHERE id % 211 = 0;
INSERT INTO people SELECT id + 100000, name, bio, tenant FROM people WHERE id % 300 = 0;
DELETE FROM log WHERE rowid % 150 = 0;
INSERT INTO log VALUES ('2030-01-01', 'new');
UPDATE visits SET note = 'x' || note WHERE rowid % 133 = 0;
INSERT OR IGNORE INTO visits VALUES (1, '1999-01-01', 'early', 1), (6000, '2099-01-01', 'late', 2);
UPDATE pairs SET v = v || '!' WHERE (a * 7 + length(b)) % 89 = 0;
DELETE FROM pairs WHERE a % 101 = 0;
INSERT INTO pairs VALUES (250, 'k99', 'new', 1);
UPDATE words SET n = n + 1 WHERE w LIKE '%77';
UPDATE files SET data = randomblob(length(data)) WHERE id % 37 = 0;
UPDATE files SET data = CAST(substr(data, 1, 1500) || randomblob(length(data) - 1500) AS BLOB)
  WHERE id % 41 = 0;
COMMIT;
)";

struct Files {
  fs::path backup;
  fs::path live;
};

Files make_files(const ScratchDir& dir, int page_size) {
  Files f{dir.path() / "backup.db", dir.path() / "live.db"};
  sqlite3(f.backup, backup_sql(page_size));
  fs::copy_file(f.backup, f.live);
  sqlite3(f.live, kChanges);
  return f;
}

DiffOptions options(bool every_row, NoKeyTables no_key = NoKeyTables::kByRowid) {
  DiffOptions o;
  o.no_key = no_key;
  o.tenants = core::TenantSpec{"tenant", std::nullopt, "id", std::nullopt};
  o.sample_rows = 3;
  o.every_row = every_row;
  return o;
}

std::vector<std::string> keys(const std::vector<RowSample>& samples) {
  std::vector<std::string> out;
  for (const auto& s : samples) out.push_back(s.key);
  return out;
}

void expect_same(const DatabaseDiff& fast, const DatabaseDiff& slow, const std::string& label) {
  ASSERT_EQ(fast.tables.size(), slow.tables.size()) << label;
  for (std::size_t i = 0; i < fast.tables.size(); ++i) {
    const auto& a = fast.tables[i];
    const auto& b = slow.tables[i];
    std::string where = label + " " + a.name;
    EXPECT_EQ(a.name, b.name) << where;
    EXPECT_EQ(a.lost, b.lost) << where;
    EXPECT_EQ(a.revived, b.revived) << where;
    EXPECT_EQ(a.reverted, b.reverted) << where;
    EXPECT_EQ(a.unchanged, b.unchanged) << where;
    EXPECT_EQ(b.unchanged_unread, 0u) << where;
    EXPECT_EQ(keys(a.lost_samples), keys(b.lost_samples)) << where;
    EXPECT_EQ(keys(a.revived_samples), keys(b.revived_samples)) << where;
    EXPECT_EQ(keys(a.reverted_samples), keys(b.reverted_samples)) << where;
  }
  ASSERT_EQ(fast.tenants.size(), slow.tenants.size()) << label;
  for (std::size_t i = 0; i < fast.tenants.size(); ++i) {
    EXPECT_EQ(fast.tenants[i].id, slow.tenants[i].id) << label;
    EXPECT_EQ(fast.tenants[i].lost, slow.tenants[i].lost) << label;
    EXPECT_EQ(fast.tenants[i].revived, slow.tenants[i].revived) << label;
    EXPECT_EQ(fast.tenants[i].reverted, slow.tenants[i].reverted) << label;
  }
}

using test_support::table;

class SharedPages : public ::testing::TestWithParam<int> {};

TEST_P(SharedPages, SameFindingsAsReadingEveryRowAndMostRowsUnread) {
  if (!test::have_tool("sqlite3")) GTEST_SKIP() << "SKIPPED LOUDLY: sqlite3 is not installed";
  ScratchDir dir;
  auto f = make_files(dir, GetParam());
  auto fast = diff_databases(f.backup, f.live, options(false));
  auto slow = diff_databases(f.backup, f.live, options(true));
  ASSERT_TRUE(fast) << fast.error().message;
  ASSERT_TRUE(slow) << slow.error().message;
  expect_same(*fast, *slow, fmt::format("page size {}", GetParam()));
  // Every kind of table took the shortcut: rowid order, one sorted scan of several ranges (a
  // composite key over a rowid table, a keyless table), a WITHOUT ROWID key; and every table
  // has changes, so the shortcut had ranges to read between the shared rows. With 64 KiB pages
  // the tables are a few dozen pages, nearly all of them changed: there only the cross-check.
  std::uint64_t unread = 0;
  for (const char* name : {"people", "log", "visits", "pairs", "words"}) {
    const auto& t = table(*fast, name);
    if (GetParam() <= 4096) {
      EXPECT_GT(t.unchanged_unread, t.unchanged / 4) << name << " page size " << GetParam();
    }
    EXPECT_TRUE(t.changed()) << name;
    unread += t.unchanged_unread;
  }
  EXPECT_GT(unread, 0u);
  // A table without a key matched by content: one sorted scan of the ranges too.
  auto fast_content = diff_databases(f.backup, f.live, options(false, NoKeyTables::kByContent));
  auto slow_content = diff_databases(f.backup, f.live, options(true, NoKeyTables::kByContent));
  ASSERT_TRUE(fast_content) << fast_content.error().message;
  ASSERT_TRUE(slow_content) << slow_content.error().message;
  expect_same(*fast_content, *slow_content, fmt::format("by content, page size {}", GetParam()));
  EXPECT_EQ(table(*fast_content, "log").key, "content");
  if (GetParam() <= 4096) {
    EXPECT_GT(table(*fast_content, "log").unchanged_unread, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(PageSizes, SharedPages, ::testing::Values(512, 4096, 65536));

// A few rows changed on every page (the sample generator's live copy changes every page of its
// big tables): the pages differ, but their rows are compared one by one, so the rows that did
// not change are still left unread; rows whose overflow pages alone changed are read. Same
// findings as reading every row.
TEST(SharedPagesTest, RowsOfPagesThatChangedAreComparedOneByOne) {
  if (!test::have_tool("sqlite3")) GTEST_SKIP() << "SKIPPED LOUDLY: sqlite3 is not installed";
  ScratchDir dir;
  Files f{dir.path() / "backup.db", dir.path() / "live.db"};
  sqlite3(f.backup, R"(
PRAGMA page_size = 4096;
CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT, bio TEXT, tenant INTEGER);
CREATE TABLE pairs(a INTEGER, b TEXT, v TEXT, tenant INTEGER, PRIMARY KEY(a, b)) WITHOUT ROWID;
CREATE TABLE files(id INTEGER PRIMARY KEY, data BLOB, tenant INTEGER);
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000)
INSERT INTO people SELECT i, 'person ' || i, hex(randomblob(8 + i % 8)), i % 7 FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 7999)
INSERT INTO pairs SELECT 1 + i % 500, 'k' || (i / 500), hex(randomblob(8)), i % 3 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
INSERT INTO files SELECT i, randomblob(3000 + i % 7 * 700), i % 4 FROM n;
COMMIT;
)");
  fs::copy_file(f.backup, f.live);
  sqlite3(f.live, R"(
BEGIN;
UPDATE people SET bio = lower(bio) WHERE id % 30 = 0;
DELETE FROM people WHERE id % 143 = 0;
INSERT INTO people VALUES (100000, 'new', 'bio', 1);
UPDATE pairs SET v = v || '!' WHERE (a * 31 + length(b)) % 30 = 0;
DELETE FROM pairs WHERE a % 101 = 0;
UPDATE files SET data = CAST(substr(data, 1, 1500) || randomblob(length(data) - 1500) AS BLOB)
  WHERE id % 25 = 0;
COMMIT;
)");
  auto fast = diff_databases(f.backup, f.live, options(false));
  auto slow = diff_databases(f.backup, f.live, options(true));
  ASSERT_TRUE(fast) << fast.error().message;
  ASSERT_TRUE(slow) << slow.error().message;
  expect_same(*fast, *slow, "a few rows changed on every page");
  for (const char* name : {"people", "pairs", "files"}) {
    const auto& t = table(*fast, name);
    EXPECT_TRUE(t.changed()) << name;
    EXPECT_GT(t.unchanged_unread, t.unchanged / 2) << name;
  }
  EXPECT_EQ(table(*fast, "files").reverted, 16u);  // their overflow pages alone changed
}

TEST(SharedPagesTest, AgreesWithSqldiff) {
  if (!test::have_tool("sqlite3") || !test::have_tool("sqldiff")) {
    GTEST_SKIP() << "SKIPPED LOUDLY: sqlite3 or sqldiff (package sqlite3-tools) is not installed";
  }
  ScratchDir dir;
  auto f = make_files(dir, 4096);
  auto d = diff_databases(f.backup, f.live, options(false));
  ASSERT_TRUE(d) << d.error().message;
  // sqldiff turns the backup into live: its inserts are the rows a restore loses, its deletes
  // the rows it revives, its changes the rows it reverts.
  for (const char* name : {"people", "visits", "pairs", "words", "files"}) {
    auto r =
        test::run({"sqldiff", "--summary", "--table", name, f.backup.string(), f.live.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto& t = table(*d, name);
    EXPECT_EQ(r.out, fmt::format("{}: {} changes, {} inserts, {} deletes, {} unchanged\n", name,
                                 t.reverted, t.lost, t.revived, t.unchanged));
  }
}

// Rows committed to live's -wal but not yet checkpointed are not in its main file: the pages
// are then not compared, and the rows are read.
TEST(SharedPagesTest, LiveRowsStillInTheWalAreRead) {
  if (!test::have_tool("sqlite3")) GTEST_SKIP() << "SKIPPED LOUDLY: sqlite3 is not installed";
  ScratchDir dir;
  Files f{dir.path() / "backup.db", dir.path() / "live.db"};
  sqlite3(f.backup, backup_sql(4096));
  fs::copy_file(f.backup, f.live);
  auto writer = core::Database::open(f.live, core::OpenMode::kReadWrite);
  ASSERT_TRUE(writer) << writer.error().message;
  ASSERT_TRUE(writer->exec("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;"));
  ASSERT_TRUE(writer->exec("UPDATE people SET name = 'renamed' WHERE id = 4321;"));
  ASSERT_GT(fs::file_size(fs::path(f.live.string() + "-wal")), 0u);
  auto fast = diff_databases(f.backup, f.live, options(false));
  auto slow = diff_databases(f.backup, f.live, options(true));
  ASSERT_TRUE(fast) << fast.error().message;
  ASSERT_TRUE(slow) << slow.error().message;
  expect_same(*fast, *slow, "wal");
  EXPECT_EQ(table(*fast, "people").reverted, 1u);
  for (const auto& t : fast->tables) EXPECT_EQ(t.unchanged_unread, 0u) << t.name;
}

// Damaged pages in live: the walk must stay within the file and its pages, never loop, and
// never take a page it could not parse for a shared one. Damage to a leaf (it then differs from
// the backup's) must give the findings of reading every row; damage anywhere must not crash
// (the ASan/UBSan stage runs this too).
TEST(SharedPagesTest, DamagedLivePagesNeverCrashAndLeafDamageChangesNothing) {
  if (!test::have_tool("sqlite3")) GTEST_SKIP() << "SKIPPED LOUDLY: sqlite3 is not installed";
  ScratchDir dir;
  auto f = make_files(dir, 1024);
  auto pristine = test::read_file(f.live);
  std::vector<std::pair<std::uint32_t, bool>> pages;  // page number, a leaf of a table or key
  {
    auto db = core::Database::open(f.live, core::OpenMode::kReadOnly);
    ASSERT_TRUE(db) << db.error().message;
    auto q = db->prepare(
        "SELECT pageno, pagetype = 'leaf' FROM dbstat WHERE name NOT LIKE 'sqlite_%' "
        "AND pagetype IN ('leaf', 'internal')");
    ASSERT_TRUE(q) << q.error().message;
    while (*q->step()) {
      pages.emplace_back(static_cast<std::uint32_t>(q->column_int(0)), q->column_int(1) != 0);
    }
  }
  ASSERT_GT(pages.size(), 100u);
  std::mt19937 rng(14);
  int leaves = 0;
  for (int round = 0; round < 60; ++round) {
    auto [page, leaf] = pages[rng() % pages.size()];
    std::string damaged = pristine;
    std::size_t base = std::size_t{page - 1} * 1024;
    // Header and cell pointers (the first 64 bytes) or the cells at the page's end.
    std::size_t at = base + (round % 2 ? rng() % 64 : 1024 - 1 - rng() % 256);
    for (int i = 0; i < 4 && at + i < base + 1024; ++i) damaged[at + i] = static_cast<char>(rng());
    test::write_file(f.live, damaged);
    auto fast = diff_databases(f.backup, f.live, options(false));
    auto slow = diff_databases(f.backup, f.live, options(true));
    if (leaf && fast && slow) {
      ++leaves;
      expect_same(*fast, *slow, fmt::format("leaf {} damaged at byte {}", page, at - base));
    }
  }
  EXPECT_GT(leaves, 5);
}

// A tree that points back into itself, or at a page past the file's end, is not walked.
TEST(SharedPagesTest, CyclesAndPagesPastTheEndAreRefused) {
  if (!test::have_tool("sqlite3")) GTEST_SKIP() << "SKIPPED LOUDLY: sqlite3 is not installed";
  ScratchDir dir;
  auto f = make_files(dir, 4096);
  std::uint32_t root = 0;
  {
    auto db = core::Database::open(f.live, core::OpenMode::kReadOnly);
    ASSERT_TRUE(db);
    root = static_cast<std::uint32_t>(
        *db->query_int("SELECT rootpage FROM sqlite_schema WHERE name = 'people'"));
  }
  auto pristine = test::read_file(f.live);
  detail::TreePair trees{root, root, 0};
  {
    auto files = detail::open_page_pair(f.live, f.live);
    ASSERT_TRUE(files);
    auto same = detail::find_shared_runs(**files, trees);
    ASSERT_TRUE(same);
    ASSERT_EQ(same->runs.size(), 1u);  // a file against itself: one run of every row
    EXPECT_EQ(same->runs[0].rows, same->live_rows);
    EXPECT_EQ(same->live_rows, 6000u - 28u + 20u);
  }
  for (std::uint32_t target : {root, 0x7fffffffu}) {
    std::string damaged = pristine;
    std::size_t rightmost = std::size_t{root - 1} * 4096 + 8;  // an interior page's last child
    ASSERT_EQ(static_cast<unsigned char>(damaged[rightmost - 8]), 0x05);
    for (int i = 0; i < 4; ++i)
      damaged[rightmost + i] = static_cast<char>((target >> (24 - 8 * i)) & 0xff);
    test::write_file(f.live, damaged);
    auto files = detail::open_page_pair(f.live, f.backup);
    ASSERT_TRUE(files);
    EXPECT_FALSE(detail::find_shared_runs(**files, trees)) << target;
  }
}

// A table changed on every page (as the sample generator's live copy is) is given up once a
// quarter of the backup's tree matched nothing: the rest of it is not read for nothing.
TEST(SharedPagesTest, ATreeChangedOnEveryPageIsGivenUpEarly) {
  if (!test::have_tool("sqlite3")) GTEST_SKIP() << "SKIPPED LOUDLY: sqlite3 is not installed";
  ScratchDir dir;
  Files f{dir.path() / "backup.db", dir.path() / "live.db"};
  sqlite3(f.backup, backup_sql(4096));
  fs::copy_file(f.backup, f.live);
  sqlite3(f.live, "UPDATE people SET tenant = tenant + 1; UPDATE log SET what = what WHERE 0;");
  auto files = detail::open_page_pair(f.live, f.backup);
  ASSERT_TRUE(files);
  auto db = core::Database::open(f.live, core::OpenMode::kReadOnly);
  ASSERT_TRUE(db);
  auto root = [&](const char* t) {
    return static_cast<std::uint32_t>(
        *db->query_int(fmt::format("SELECT rootpage FROM sqlite_schema WHERE name = '{}'", t)));
  };
  EXPECT_FALSE(detail::find_shared_runs(**files, {root("people"), root("people"), 0}));
  auto log = detail::find_shared_runs(**files, {root("log"), root("log"), 0});
  ASSERT_TRUE(log);  // untouched: one run of all its rows
  ASSERT_EQ(log->runs.size(), 1u);
  EXPECT_EQ(log->runs[0].rows, 5000u);
  auto d = diff_databases(f.backup, f.live, options(false));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(table(*d, "people").reverted, 6000u);
  EXPECT_EQ(table(*d, "people").unchanged_unread, 0u);
  EXPECT_EQ(table(*d, "log").unchanged_unread, 5000u);
}

}  // namespace
}  // namespace restorekit::diff
