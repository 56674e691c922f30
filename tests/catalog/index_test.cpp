#include <restorekit/catalog/index.hpp>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace restorekit::catalog {
namespace {

using namespace core;  // NOLINT(google-build-using-namespace)

ArchiveSummary summary(const std::string& path) {
  ArchiveSummary s;
  s.path = path;
  s.fingerprint = Fingerprint{123, 456, hash128("x")};
  s.kind = BackupKind::kForeign;
  s.archive = ArchiveInfo{"tar", "GNU tar format", {"zstd"}};
  s.entries = 3;
  s.bytes = 1000;
  s.archive_bytes = 500;
  s.document_files = 2;
  s.document_bytes = 10;
  s.oldest_mtime = 1;
  s.newest_mtime = 2;
  s.databases.push_back(DatabaseInfo{"app.sqlite",
                                     DatabaseFormat::kSqlDump,
                                     990,
                                     7,
                                     4096,
                                     {{"persons", 5}, {"companies", 2}},
                                     {{"1", "Acme", 4}}});
  s.findings.push_back(Finding{"UNSAFE_PATH", Severity::kWarning, "../x", "climbs out"});
  s.listed = true;
  return s;
}

TEST(Index, AnswersOnlyForAnUnchangedFingerprint) {
  auto index = Index::open_memory();
  ASSERT_TRUE(index);
  auto s = summary("/b/one.tar.zst");
  std::vector<EntryRecord> entries = {{"app.sqlite", EntryType::kFile, 990, 1, false, true, {}},
                                      {"../x", EntryType::kFile, 1, 2, false, false, hash128("y")}};
  auto store = EntryStore::from_records(entries);
  ASSERT_TRUE(store);
  ASSERT_TRUE(index->put(s, store->get()));
  auto found = index->find(s.path, s.fingerprint);
  ASSERT_TRUE(found);
  ASSERT_TRUE(found->has_value());
  const auto& f = **found;
  EXPECT_EQ(f.archive.filters, std::vector<std::string>{"zstd"});
  EXPECT_EQ(f.databases[0].tables[1].name, "companies");
  EXPECT_EQ(f.databases[0].kind, DatabaseFormat::kSqlDump);
  EXPECT_EQ(f.databases[0].tenants[0].label, "Acme");
  EXPECT_EQ(f.findings[0].code, "UNSAFE_PATH");
  EXPECT_EQ(f.oldest_mtime, 1);
  EXPECT_TRUE(f.listed);
  auto changed = s.fingerprint;
  changed.mtime_ns += 1;
  auto miss = index->find(s.path, changed);
  ASSERT_TRUE(miss);
  EXPECT_FALSE(miss->has_value());
  auto listed = index->entries(s.path);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_FALSE((*listed)[1].safe);
  EXPECT_EQ((*listed)[1].hash, hash128("y"));
}

TEST(Index, PutReplacesAndForgetRemoves) {
  auto index = Index::open_memory();
  ASSERT_TRUE(index);
  auto s = summary("/b/two.zip");
  ASSERT_TRUE(index->put(s));
  s.entries = 99;
  s.databases.clear();
  ASSERT_TRUE(index->put(s));
  auto all = index->list();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].entries, 99u);
  EXPECT_TRUE((*all)[0].databases.empty());
  EXPECT_FALSE((*all)[0].listed) << "no entries were stored with this put";
  ASSERT_TRUE(index->forget(s.path));
  EXPECT_TRUE(index->list()->empty());
}

TEST(Index, PersistsInAFile) {
  test::ScratchDir dir;
  auto path = dir / "sub" / "catalog.sqlite";
  {
    auto index = Index::open(path);
    ASSERT_TRUE(index) << index.error().message;
    ASSERT_TRUE(index->put(summary("/b/three.zip")));
  }
  auto index = Index::open(path);
  ASSERT_TRUE(index);
  EXPECT_EQ(index->list()->size(), 1u);
}

TEST(Index, ADamagedIndexIsKeptAsideAndANewOneStarted) {
  test::ScratchDir dir;
  test::write_file(dir / "catalog.sqlite", std::string(4096, 'j'));
  auto index = Index::open(dir / "catalog.sqlite");
  ASSERT_TRUE(index) << index.error().message;
  ASSERT_TRUE(index->set_aside());
  EXPECT_EQ(test::read_file(*index->set_aside()), std::string(4096, 'j'));
  EXPECT_TRUE(index->list());
}

TEST(Index, RefusesAndKeepsAFileThatWasNeverAnIndex) {
  test::ScratchDir dir;
  test::write_file(dir / "backup.zip", std::string(4096, 'j'));
  auto index = Index::open(dir / "backup.zip");
  ASSERT_FALSE(index);
  EXPECT_NE(index.error().message.find("not a restorekit catalog"), std::string::npos);
  EXPECT_EQ(test::read_file(dir / "backup.zip"), std::string(4096, 'j'));
}

// A catalog written before the entries carried their NFC keys (schema 3) is migrated in place:
// its archives, listings and verifications stay, and finds match the migrated keys.
TEST(Index, ASchema3CatalogIsMigratedAndKeepsItsRecords) {
  RK_REQUIRE_TOOL("sqlite3");
  test::ScratchDir dir;
  auto path = dir / "catalog.sqlite";
  const std::string v3 = R"sql(
CREATE TABLE archives(
  id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, head_tail TEXT NOT NULL,
  kind TEXT NOT NULL, format TEXT NOT NULL, format_detail TEXT NOT NULL, filters TEXT NOT NULL,
  encrypted INTEGER NOT NULL, entries INTEGER NOT NULL, bytes INTEGER NOT NULL,
  archive_bytes INTEGER NOT NULL, document_files INTEGER NOT NULL,
  document_bytes INTEGER NOT NULL, oldest_mtime INTEGER, newest_mtime INTEGER,
  header_json TEXT NOT NULL, listed INTEGER NOT NULL, indexed_at INTEGER NOT NULL);
CREATE TABLE entries(
  archive_id INTEGER NOT NULL, seq INTEGER NOT NULL, path TEXT NOT NULL, type TEXT NOT NULL,
  size INTEGER, mtime INTEGER NOT NULL, encrypted INTEGER NOT NULL, safe INTEGER NOT NULL,
  hash TEXT, name TEXT NOT NULL, PRIMARY KEY(archive_id, seq)) WITHOUT ROWID;
CREATE INDEX entries_by_path ON entries(path);
CREATE INDEX entries_by_name ON entries(name);
CREATE TABLE databases(
  archive_id INTEGER NOT NULL, seq INTEGER NOT NULL, entry TEXT NOT NULL, kind TEXT NOT NULL,
  bytes INTEGER NOT NULL, user_version INTEGER NOT NULL, page_size INTEGER NOT NULL,
  PRIMARY KEY(archive_id, seq)) WITHOUT ROWID;
CREATE TABLE db_tables(
  archive_id INTEGER NOT NULL, db_seq INTEGER NOT NULL, seq INTEGER NOT NULL,
  name TEXT NOT NULL, rows INTEGER NOT NULL, PRIMARY KEY(archive_id, db_seq, seq)) WITHOUT ROWID;
CREATE TABLE db_tenants(
  archive_id INTEGER NOT NULL, db_seq INTEGER NOT NULL, seq INTEGER NOT NULL,
  id TEXT NOT NULL, label TEXT NOT NULL, rows INTEGER NOT NULL,
  PRIMARY KEY(archive_id, db_seq, seq)) WITHOUT ROWID;
CREATE TABLE verifications(
  archive_id INTEGER PRIMARY KEY, verified_at INTEGER NOT NULL, verdict TEXT NOT NULL,
  errors INTEGER NOT NULL, warnings INTEGER NOT NULL);
CREATE TABLE staged(
  path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
  head_tail TEXT NOT NULL, entry TEXT NOT NULL, file TEXT NOT NULL, used_at INTEGER NOT NULL);
CREATE TABLE findings(
  archive_id INTEGER NOT NULL, seq INTEGER NOT NULL, code TEXT NOT NULL, severity TEXT NOT NULL,
  entry TEXT NOT NULL, message TEXT NOT NULL, PRIMARY KEY(archive_id, seq)) WITHOUT ROWID;
INSERT INTO archives VALUES(1, '/b/old.tar', 10, 20, '00000000000000000000000000000000',
  'foreign', 'tar', 'GNU tar format', 'zstd', 0, 1, 5, 10, 1, 5, 1, 1, '', 1, 100);
INSERT INTO entries VALUES(1, 0, 'docs/Mu' || char(776) || 'ller.pdf', 'file', 5, 1, 0, 1,
  NULL, 'Mu' || char(776) || 'ller.pdf');
INSERT INTO verifications VALUES(1, 50, 'intact', 0, 0);
PRAGMA user_version = 3;
)sql";
  test::write_file(dir / "v3.sql", v3);
  ASSERT_EQ(test::sh("sqlite3 '" + path.string() + "' < '" + (dir / "v3.sql").string() + "'"), 0);
  auto index = Index::open(path);
  ASSERT_TRUE(index) << index.error().message;
  auto all = index->list();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  auto v = index->verification("/b/old.tar");
  ASSERT_TRUE(v && v->has_value());
  EXPECT_EQ((*v)->verified_at, 50);
  auto found = index->find_entries("M\xc3\xbcller.pdf", 10);
  ASSERT_TRUE(found);
  ASSERT_EQ(found->size(), 1u) << "the migrated keys match an NFC pattern";
  EXPECT_EQ((*found)[0].entry.path, "docs/Mu\xcc\x88ller.pdf");
  auto version = test::run({"sqlite3", path.string(), "PRAGMA user_version"});
  EXPECT_EQ(version.out, "4\n");
}

TEST(Fingerprint, ChangesWithContentAndNotOtherwise) {
  test::ScratchDir dir;
  test::write_file(dir / "f", std::string(200000, 'a'));
  auto a = fingerprint_file(dir / "f");
  auto b = fingerprint_file(dir / "f");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  test::write_file(dir / "g", std::string(199999, 'a') + "b");
  auto c = fingerprint_file(dir / "g");
  ASSERT_TRUE(c);
  EXPECT_NE(a->head_tail, c->head_tail);
  EXPECT_EQ(fingerprint_file(dir / "missing").error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace restorekit::catalog
