#include <restorekit/diff/diff.hpp>

#include <algorithm>
#include <map>
#include <regex>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <restorekit/core/backup.hpp>
#include <restorekit/core/sqlite.hpp>

#include "diff_test_support.hpp"
#include "test_support.hpp"

namespace restorekit::diff {
namespace {

using test::ScratchDir;
namespace fs = std::filesystem;

struct Counts {
  std::uint64_t changes = 0, inserts = 0, deletes = 0, unchanged = 0;
};

// `sqldiff --summary BACKUP LIVE`: what turns the backup into live — its inserts are the rows
// a restore loses, its deletes the rows it revives, its changes the rows it reverts.
std::map<std::string, Counts> sqldiff_summary(const fs::path& backup, const fs::path& live) {
  auto r = test::run({"sqldiff", "--summary", backup.string(), live.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, Counts> out;
  std::regex line(R"(^(.+): (\d+) changes, (\d+) inserts, (\d+) deletes, (\d+) unchanged$)");
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, line)) {
      out[m[1]] =
          Counts{std::stoull(m[2]), std::stoull(m[3]), std::stoull(m[4]), std::stoull(m[5])};
    }
  }
  return out;
}

using test_support::table;

// sqldiff turns the backup into live: its inserts are the rows a restore loses, its deletes
// the rows it revives, its changes the rows it reverts.
void expect_counts_match(const TableDiff& t, const Counts& c, const std::string& label) {
  EXPECT_EQ(t.lost, c.inserts) << label;
  EXPECT_EQ(t.revived, c.deletes) << label;
  EXPECT_EQ(t.reverted, c.changes) << label;
  EXPECT_EQ(t.unchanged, c.unchanged) << label;
}

DiffOptions by_content() {
  DiffOptions o;
  o.no_key = NoKeyTables::kByContent;
  return o;
}

DiffOptions only_tables(std::vector<std::string> tables) {
  DiffOptions o;
  o.tables = std::move(tables);
  return o;
}

DiffOptions with_samples(std::size_t n) {
  DiffOptions o;
  o.sample_rows = n;
  return o;
}

void make_db(const fs::path& path, const std::string& sql) {
  auto db = core::Database::open(path, core::OpenMode::kCreate);
  ASSERT_TRUE(db);
  auto r = db->exec(sql);
  ASSERT_TRUE(r) << r.error().message;
}

TEST(Diff, SampleCountsEqualSqldiffForEveryTableWithMatchingColumns) {
  RK_REQUIRE_TOOL("sqldiff");
  const auto& s = test::small_sample();
  auto d = diff_databases(s.database, s.live_database, DiffOptions{});
  ASSERT_TRUE(d) << d.error().message;
  auto expected = sqldiff_summary(s.database, s.live_database);
  ASSERT_FALSE(expected.empty());
  for (const auto& [name, c] : expected) {
    if (name == "persons") continue;  // a column was added: checked below
    expect_counts_match(table(*d, name), c, name);
  }
  // persons gained a column: rows differing in the common columns (what sqldiff counts), plus
  // matched rows whose only difference is a non-NULL value in the new column.
  const auto& p = table(*d, "persons");
  auto db = core::Database::open(s.live_database, core::OpenMode::kReadOnly);
  ASSERT_TRUE(db->exec("ATTACH '" + s.database.string() + "' AS b"));
  auto only_mobile = db->query_int(
      "SELECT count(*) FROM main.persons l JOIN b.persons o USING(id) WHERE l.mobile IS NOT NULL "
      "AND l.company_id IS o.company_id AND l.first_name IS o.first_name AND l.last_name IS "
      "o.last_name AND l.email IS o.email AND l.phone IS o.phone AND l.birthday IS o.birthday "
      "AND l.photo IS o.photo AND l.notes IS o.notes");
  ASSERT_TRUE(only_mobile);
  EXPECT_EQ(p.reverted, expected["persons"].changes + static_cast<std::uint64_t>(*only_mobile));
  EXPECT_EQ(p.lost, expected["persons"].inserts);
  EXPECT_EQ(p.revived, expected["persons"].deletes);
  EXPECT_FALSE(p.schema_changes.empty());
  bool version = false;
  for (const auto& c : d->schema_changes)
    version = version || c.find("user_version") != std::string::npos;
  EXPECT_TRUE(version);
}

TEST(Diff, ValuesCompareAsSqlIsNot) {
  ScratchDir dir;
  std::string schema = "CREATE TABLE t(id INTEGER PRIMARY KEY, v);";
  make_db(dir / "b.db", schema +
                            "INSERT INTO t VALUES(1, 1), (2, 0.0), (3, NULL), (4, '1'), (5, 'abc'),"
                            "(6, 'Müller'), (7, 1.5), (8, x'00ff'), (9, 9007199254740993);");
  make_db(dir / "l.db",
          schema +
              "INSERT INTO t VALUES(1, 1.0), (2, -0.0), (3, NULL), (4, 1), (5, x'616263'),"
              "(6, 'Müller'), (7, 1.5000001), (8, x'00ff'), (9, 9007199254740992.0);");
  auto d = diff_databases(dir / "b.db", dir / "l.db", with_samples(10));
  ASSERT_TRUE(d) << d.error().message;
  const auto& t = table(*d, "t");
  EXPECT_EQ(t.unchanged, 5u) << "1 = 1.0, 0.0 = -0.0, NULL = NULL, same text, same blob";
  EXPECT_EQ(t.reverted, 4u) << "'1' vs 1, text vs blob, 1.5 vs 1.5000001, int64 vs nearest real";
  std::set<std::string> keys;
  for (const auto& s : t.reverted_samples) keys.insert(s.key);
  EXPECT_EQ(keys, (std::set<std::string>{"id=4", "id=5", "id=7", "id=9"}));
}

TEST(Diff, KeysOfEveryKindAndTablesOnOneSide) {
  ScratchDir dir;
  std::string schema =
      "CREATE TABLE c(a TEXT, b INTEGER, v, PRIMARY KEY(a, b));"
      "CREATE TABLE w(k TEXT PRIMARY KEY, v) WITHOUT ROWID;"
      "CREATE TABLE n(x, y);";
  make_db(dir / "b.db", schema +
                            "INSERT INTO c VALUES('a',1,1),('a',2,2),('b',1,3);"
                            "INSERT INTO w VALUES('x',1),('y',2),('z',3);"
                            "INSERT INTO n VALUES(1,1),(2,2),(3,3);"
                            "CREATE TABLE gone(x); INSERT INTO gone VALUES(1),(2);");
  make_db(dir / "l.db", schema +
                            "INSERT INTO c VALUES('a',1,1),('a',2,20),('c',5,5);"
                            "INSERT INTO w VALUES('x',1),('z',30),('zz',4);"
                            "INSERT INTO n VALUES(1,1),(2,20),(3,3);"
                            "CREATE TABLE fresh(x); INSERT INTO fresh VALUES(1),(2),(3);");
  auto d = diff_databases(dir / "b.db", dir / "l.db", DiffOptions{});
  ASSERT_TRUE(d) << d.error().message;
  const auto& c = table(*d, "c");
  EXPECT_EQ(c.key, "primary key (a, b)");
  EXPECT_EQ((std::vector<std::uint64_t>{c.lost, c.revived, c.reverted, c.unchanged}),
            (std::vector<std::uint64_t>{1, 1, 1, 1}));
  const auto& w = table(*d, "w");
  EXPECT_EQ((std::vector<std::uint64_t>{w.lost, w.revived, w.reverted, w.unchanged}),
            (std::vector<std::uint64_t>{1, 1, 1, 1}));
  const auto& n = table(*d, "n");
  EXPECT_EQ(n.key, "rowid");
  EXPECT_EQ(n.reverted, 1u);
  EXPECT_TRUE(table(*d, "gone").only_in_backup);
  EXPECT_EQ(table(*d, "gone").revived, 2u);
  EXPECT_TRUE(table(*d, "fresh").only_in_live);
  EXPECT_EQ(table(*d, "fresh").lost, 3u);

  // By content, an updated row of a keyless table counts once lost and once revived.
  auto byc = diff_databases(dir / "b.db", dir / "l.db", by_content());
  ASSERT_TRUE(byc);
  const auto& nc = table(*byc, "n");
  EXPECT_EQ(nc.key, "content");
  EXPECT_EQ((std::vector<std::uint64_t>{nc.lost, nc.revived, nc.reverted, nc.unchanged}),
            (std::vector<std::uint64_t>{1, 1, 0, 2}));
}

// A NOCASE key: 'Apple' and 'apple' are the same row (its stored spelling changed since).
TEST(Diff, KeysWithNocaseCollationMatchAsSqliteDoes) {
  ScratchDir dir;
  std::string schema = "CREATE TABLE f(k TEXT PRIMARY KEY COLLATE NOCASE, v);";
  make_db(dir / "b.db", schema +
                            "INSERT INTO f VALUES('apple',1),('Banana',2),('cherry',3),('fig',4),"
                            "('Zebra',5);");
  make_db(dir / "l.db", schema +
                            "INSERT INTO f VALUES('Apple',1),('banana',20),('date',4),('fig',4),"
                            "('zebra',5);");
  auto d = diff_databases(dir / "b.db", dir / "l.db", with_samples(5));
  ASSERT_TRUE(d) << d.error().message;
  const auto& f = table(*d, "f");
  EXPECT_EQ(f.lost, 1u) << "date";
  EXPECT_EQ(f.revived, 1u) << "cherry";
  EXPECT_EQ(f.reverted, 3u) << "Apple, banana, zebra: same rows, changed spelling or value";
  EXPECT_EQ(f.unchanged, 1u) << "fig";
}

// Tables past 200k rows are compared in two key ranges on two workers: the halves must add up
// to what sqldiff counts, also for rows on either side of the cut.
TEST(Diff, BigTablesSplitIntoRangesCountLikeSqldiff) {
  RK_REQUIRE_TOOL("sqldiff");
  ScratchDir dir;
  std::string fill =
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) ";
  make_db(dir / "b.db",
          "CREATE TABLE big(id INTEGER PRIMARY KEY, v TEXT);"
          "CREATE TABLE nokey(x, y);" +
              fill + "INSERT INTO big SELECT i, 'v' || i FROM n;" + fill +
              "INSERT INTO nokey SELECT i, i FROM n;");
  fs::copy_file(dir / "b.db", dir / "l.db");
  auto live = core::Database::open(dir / "l.db", core::OpenMode::kReadWrite);
  ASSERT_TRUE(
      live->exec("DELETE FROM big WHERE id % 1000 = 7 OR id BETWEEN 149990 AND 150010;"
                 "UPDATE big SET v = 'changed' WHERE id % 777 = 0;"
                 "INSERT INTO big VALUES(400000, 'new'), (0, 'zero'), (-5, 'negative');"
                 "UPDATE nokey SET y = -y WHERE x % 500 = 0;"
                 "DELETE FROM nokey WHERE rowid BETWEEN 149000 AND 151000;"));
  auto d = diff_databases(dir / "b.db", dir / "l.db", DiffOptions{});
  ASSERT_TRUE(d) << d.error().message;
  for (const auto& [name, c] : sqldiff_summary(dir / "b.db", dir / "l.db")) {
    expect_counts_match(table(*d, name), c, name);
  }
}

TEST(Diff, DuplicateRowsCountAsAMultisetByContent) {
  ScratchDir dir;
  make_db(dir / "b.db", "CREATE TABLE n(x); INSERT INTO n VALUES(1),(1),(2);");
  make_db(dir / "l.db", "CREATE TABLE n(x); INSERT INTO n VALUES(1),(2),(2),(3);");
  auto d = diff_databases(dir / "b.db", dir / "l.db", by_content());
  ASSERT_TRUE(d);
  const auto& n = table(*d, "n");
  EXPECT_EQ(n.unchanged, 2u);
  EXPECT_EQ(n.lost, 2u) << "one more 2 and a 3 in live";
  EXPECT_EQ(n.revived, 1u) << "one 1 fewer in live";
}

TEST(Diff, TenantBreakdownAddsUpAndCarriesLabels) {
  const auto& s = test::small_sample();
  DiffOptions o;
  o.tenants = core::TenantSpec{"company_id", "companies", "id", "name"};
  auto d = diff_databases(s.database, s.live_database, o);
  ASSERT_TRUE(d);
  std::uint64_t lost = 0, revived = 0, reverted = 0;
  for (const auto& t : d->tenants) {
    lost += t.lost;
    revived += t.revived;
    reverted += t.reverted;
    EXPECT_FALSE(t.label.empty()) << t.id;
  }
  // audit_log rows without a company and tables without the column are outside every tenant.
  std::uint64_t untenanted_lost = 0;
  for (const auto& t : d->tables) {
    if (t.name == "companies") untenanted_lost += t.lost;
  }
  EXPECT_EQ(lost + untenanted_lost, d->lost);
  EXPECT_EQ(revived, d->revived);
  EXPECT_EQ(reverted, d->reverted);
  ASSERT_GE(d->tenants.size(), 2u);
  EXPECT_TRUE(core::tenant_id_less(d->tenants[0].id, d->tenants[1].id));
}

TEST(Diff, MutatedCorpusDatabaseEqualsSqldiff) {
  auto corpus = test::corpus_dir();
  if (!corpus) GTEST_SKIP() << "SKIPPED: corpus not found (set RESTOREKIT_CORPUS)";
  RK_REQUIRE_TOOL("sqldiff");
  ScratchDir dir;
  for (const char* name : {"Chinook_Sqlite.sqlite", "Northwind_small.sqlite"}) {
    fs::copy_file(*corpus / "sqlite" / name, dir / "backup.db",
                  fs::copy_options::overwrite_existing);
    fs::copy_file(*corpus / "sqlite" / name, dir / "live.db", fs::copy_options::overwrite_existing);
    auto live = core::Database::open(dir / "live.db", core::OpenMode::kReadWrite);
    ASSERT_TRUE(live);
    std::string mutate =
        std::string(name).rfind("Chinook", 0) == 0
            ? "DELETE FROM PlaylistTrack WHERE TrackId % 7 = 0; UPDATE Track SET Name = Name || "
              "' (remastered)' WHERE TrackId % 11 = 0; INSERT INTO Genre VALUES(99, 'Ünicode');"
            : "DELETE FROM \"OrderDetail\" WHERE rowid % 9 = 0; UPDATE \"Order\" SET Freight = "
              "Freight * 2 WHERE Id % 5 = 0; INSERT INTO Region VALUES(99, 'Süd');";
    ASSERT_TRUE(live->exec(mutate)) << name;
    auto d = diff_databases(dir / "backup.db", dir / "live.db", DiffOptions{});
    ASSERT_TRUE(d) << d.error().message;
    for (const auto& [table_name, c] : sqldiff_summary(dir / "backup.db", dir / "live.db")) {
      if (table_name.rfind("sqlite_", 0) == 0) continue;  // SQLite's own tables are not data
      expect_counts_match(table(*d, table_name), c, std::string(name) + ":" + table_name);
    }
  }
}

TEST(Diff, IdenticalDatabasesHaveNoDifferences) {
  const auto& s = test::small_sample();
  auto d = diff_databases(s.database, s.database, DiffOptions{});
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->changed());
}

TEST(Diff, UnknownTableAndMissingDatabaseAreErrors) {
  const auto& s = test::small_sample();
  auto bad = diff_databases(s.database, s.live_database, only_tables({"nope"}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(diff_databases("/nonexistent.db", s.live_database, DiffOptions{}));
  auto only = diff_databases(s.database, s.live_database, only_tables({"settings"}));
  ASSERT_TRUE(only);
  ASSERT_EQ(only->tables.size(), 1u);
}

TEST(DiffBackup, ArchiveDatabaseAndDocumentsAgainstLive) {
  ScratchDir dir;
  const auto& s = test::small_sample();
  core::BackupOptions b;
  b.database = s.database;
  b.documents = s.documents;
  b.output = dir / "b.tar.zst";
  ASSERT_TRUE(core::write_backup(b));
  BackupDiffOptions o;
  o.live_documents = s.live_documents;
  o.temp_dir = dir / "tmp";
  fs::create_directories(o.temp_dir);
  auto r = diff_backup(dir / "b.tar.zst", s.live_database, o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->backup_database, "db/app.sqlite");
  auto direct = diff_databases(s.database, s.live_database, DiffOptions{});
  ASSERT_TRUE(direct);
  EXPECT_EQ(r->database.lost, direct->lost);
  EXPECT_EQ(r->database.reverted, direct->reverted);
  ASSERT_TRUE(r->documents);
  // Independent count of the documents: walk both folders.
  auto files = [](const fs::path& root) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
      if (e.is_regular_file())
        out[fs::relative(e.path(), root).generic_string()] = test::read_file(e.path());
    }
    return out;
  };
  auto backup_docs = files(s.documents);
  auto live_docs = files(s.live_documents);
  std::uint64_t lost = 0, revived = 0, changed = 0;
  for (const auto& [p, data] : live_docs) {
    if (!backup_docs.count(p))
      ++lost;
    else if (backup_docs[p] != data)
      ++changed;
  }
  for (const auto& [p, data] : backup_docs) revived += live_docs.count(p) ? 0 : 1;
  EXPECT_EQ(r->documents->lost, lost);
  EXPECT_EQ(r->documents->revived, revived);
  EXPECT_EQ(r->documents->changed, changed);
  EXPECT_GT(lost + revived + changed, 0u);
  EXPECT_TRUE(fs::is_empty(o.temp_dir)) << "the staged database is removed";
}

TEST(DiffBackup, ForeignZipAndBareDatabaseFiles) {
  RK_REQUIRE_TOOL("zip");
  ScratchDir dir;
  const auto& s = test::small_sample();
  fs::copy_file(s.database, dir / "app.sqlite");
  ASSERT_EQ(test::sh("zip -q f.zip app.sqlite", dir.path()), 0);
  auto zip = diff_backup(dir / "f.zip", s.live_database, BackupDiffOptions{});
  ASSERT_TRUE(zip) << zip.error().message;
  EXPECT_EQ(zip->backup_database, "app.sqlite");
  EXPECT_TRUE(zip->database.changed());
  auto bare = diff_backup(dir / "app.sqlite", s.live_database, BackupDiffOptions{});
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->database.lost, zip->database.lost);
  BackupDiffOptions with_docs;
  with_docs.live_documents = s.live_documents;
  auto bare_docs = diff_backup(dir / "app.sqlite", s.live_database, with_docs);
  ASSERT_FALSE(bare_docs) << "a bare database holds no documents to compare";
  EXPECT_EQ(bare_docs.error().code, ErrorCode::kInvalidArgument);
  ASSERT_EQ(
      test::sh(
          "zip -q docs.zip profile.toml 2>/dev/null || (echo x > x.txt && zip -q docs.zip x.txt)",
          dir.path()),
      0);
  auto none = diff_backup(dir / "docs.zip", s.live_database, BackupDiffOptions{});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace restorekit::diff

namespace restorekit::diff {
namespace {

// The documents diff lists each side in memory while it is small and on disk beyond: the two
// must give the same diff. The folder and the backup's list hold every case: unchanged files
// (more than one hashing batch of them), a change of content at the same size, a change of size,
// a document only in the backup, a second backup file of one name (NFD and NFC), files only in
// live, two live spellings of one name, a hash live's scan already knows; each scope.
TEST(DocumentsDiff, InMemoryAndOnDiskGiveTheSameDiff) {
  test::ScratchDir dir;
  fs::path live = dir / "live";
  const std::string nfd = "Cafe\xcc\x81.txt";
  const std::string nfc = "Caf\xc3\xa9.txt";
  std::vector<core::EntryRecord> files;
  auto backup_file = [&](const std::string& rel, const std::string& content) {
    files.push_back(core::EntryRecord{"docs/" + rel, core::EntryType::kFile, content.size(), 0,
                                      false, true, core::hash128(std::string_view(content))});
  };
  for (int i = 0; i < 1100; ++i) {  // unchanged, hashed in two batches
    auto rel = fmt::format("same/{}/f{}.txt", i % 9, i);
    test::write_file(live / rel, fmt::format("content {}", i));
    backup_file(rel, fmt::format("content {}", i));
  }
  test::write_file(live / "edited.txt", "AAAA");  // same size, other bytes
  backup_file("edited.txt", "BBBB");
  test::write_file(live / "grown.txt", "longer now");
  backup_file("grown.txt", "short");
  backup_file("deleted/in/live.txt", "gone from live");  // revived
  backup_file(nfd, "one");                               // matched with live's NFC file
  backup_file(nfc, "two");                               // a second backup file of that name
  test::write_file(live / nfc, "one");
  test::write_file(live / "only/in/live.txt", "new");  // lost
  test::write_file(live / "Dup\xc3\xa9.txt", "x");     // two live spellings, no backup file
  test::write_file(live / "Dupe\xcc\x81.txt", "y");
  test::write_file(live / "known.txt", "kkkk");  // its hash comes from the scan below
  backup_file("known.txt", "kkkk");
  files.push_back(core::EntryRecord{"restorekit/checksums.xxh128", core::EntryType::kFile, 1, 0,
                                    false, true, core::hash128(std::string_view("x"))});
  LiveHashes scanned = [](const std::string& path) -> std::optional<core::Digest128> {
    if (path != "known.txt") return std::nullopt;
    return core::hash128(std::string_view("not kkkk"));  // so it counts as changed
  };

  auto text = [](const DocumentDiff& d) {
    auto sorted = [](std::vector<std::string> v) {
      std::sort(v.begin(), v.end());
      return fmt::format("{}", fmt::join(v, ","));
    };
    std::vector<std::string> dups;
    for (const auto& [a, b] : d.live_duplicates) dups.push_back(a + "=" + b);
    return fmt::format("lost {} ({} B) revived {} changed {} unchanged {} | {} | {} | {} | {}",
                       d.lost, d.lost_bytes, d.revived, d.changed, d.unchanged,
                       sorted(d.lost_samples), sorted(d.revived_samples), sorted(d.changed_samples),
                       sorted(dups));
  };
  for (auto scope : {LiveScope::kWholeFolder, LiveScope::kTheseFiles}) {
    auto memory = diff_documents(walk_of(files), "docs/", live, 50, scanned, scope);
    auto disk = diff_documents(walk_of(files), "docs/", live, 50, scanned, scope, 0);
    auto small = diff_documents(walk_of(files), "docs/", live, 50, scanned, scope, 7);
    ASSERT_TRUE(memory && disk && small);
    EXPECT_EQ(text(*memory), text(*disk));
    EXPECT_EQ(text(*memory), text(*small)) << "spilled part-way";
    EXPECT_EQ(memory->unchanged, 1101u);  // 1,100 + the NFD/NFC pair
    EXPECT_EQ(memory->changed, 3u);       // edited, grown, known
    EXPECT_EQ(memory->revived, 2u);       // deleted/in/live.txt and the second spelling
    bool whole = scope == LiveScope::kWholeFolder;
    EXPECT_EQ(memory->lost, whole ? 3u : 0u) << text(*memory);  // only/in/live, both Dup
    EXPECT_EQ(memory->live_duplicates.size(), whole ? 1u : 0u) << text(*memory);
  }
}

}  // namespace
}  // namespace restorekit::diff
