#include <restorekit/catalog/index.hpp>
#include <restorekit/inspect/inspect.hpp>

#include <set>

#include <gtest/gtest.h>

#include <restorekit/core/backup.hpp>
#include <restorekit/core/fs.hpp>

#include "test_support.hpp"

namespace restorekit::inspect {
namespace {

using test::ScratchDir;
namespace fs = std::filesystem;

fs::path our_backup(const ScratchDir& dir, const std::string& name,
                    std::optional<std::string> password = std::nullopt) {
  const auto& s = test::small_sample();
  core::BackupOptions o;
  o.database = s.database;
  o.documents = s.documents;
  o.output = dir / name;
  o.password = std::move(password);
  o.tenants = core::TenantSpec{"company_id", "companies", "id", "name"};
  auto r = core::write_backup(o);
  EXPECT_TRUE(r) << r.error().message;
  return o.output;
}

// A foreign backup made by a peer tool from the sample's database and documents.
fs::path foreign_backup(const ScratchDir& dir, const std::string& command,
                        const std::string& name) {
  const auto& s = test::small_sample();
  fs::path src = dir / "src";
  if (!fs::exists(src)) {
    fs::create_directories(src);
    fs::copy_file(s.database, src / "app.sqlite");
    fs::copy(s.documents, src / "docs", fs::copy_options::recursive);
  }
  EXPECT_EQ(test::sh(command + " '" + (dir / name).string() + "' app.sqlite docs", src), 0);
  return dir / name;
}

std::uint64_t rows_of(const core::DatabaseInfo& db, std::string_view table) {
  for (const auto& t : db.tables) {
    if (t.name == table) return t.rows;
  }
  return 0;
}

InspectOptions options_in(const ScratchDir& dir) {
  InspectOptions o;
  o.temp_dir = dir / "tmp";
  fs::create_directories(o.temp_dir);
  return o;
}

bool empty_dir(const fs::path& p) {
  return fs::is_empty(p);
}

// A bomb is stopped by the ratio limit even where inspect skips the data (tar streams still
// decompress what they skip): every command that reads an archive applies the same limits.
TEST(Inspect, ADecompressionBombIsStoppedWhileSkipping) {
  test::ScratchDir dir;
  test::write_bytes(
      dir / "bomb.tar.zst",
      test::make_archive(core::ArchiveKind::kTarZst,
                         {{"zeros.bin", std::string(32 << 20, '\0')}, {"after.txt", "x"}}));
  InspectOptions o;
  o.reader.limits.ratio_grace_bytes = 1 << 20;
  auto r = inspect(dir / "bomb.tar.zst", o);
  Error why = r ? r->incomplete.value_or(Error(ErrorCode::kInternal, "complete")) : r.error();
  EXPECT_EQ(why.code, ErrorCode::kRatioLimit) << why.message;
  EXPECT_NE(why.message.find("1000:1"), std::string::npos) << why.message;
}

TEST(Inspect, OurBackupIsSummarisedFromItsHeader) {
  ScratchDir dir;
  auto path = our_backup(dir, "b.tar.zst");
  auto r = inspect(path, options_in(dir));
  ASSERT_TRUE(r) << r.error().message;
  const auto& s = r->summary;
  EXPECT_EQ(s.kind, core::BackupKind::kRestorekit);
  EXPECT_EQ(s.archive.format, "tar");
  EXPECT_EQ(s.archive.filters, std::vector<std::string>{"zstd"});
  ASSERT_TRUE(s.header);
  ASSERT_EQ(s.databases.size(), 1u);
  EXPECT_EQ(s.databases[0].entry, "db/app.sqlite");
  EXPECT_FALSE(s.databases[0].tenants.empty());
  EXPECT_EQ(s.document_files, test::small_sample().document_files);
  EXPECT_EQ(s.entries, s.header->total_entries);
  EXPECT_FALSE(s.listed);
  EXPECT_FALSE(r->listing);
}

TEST(Inspect, OurBackupPreviewReadsOnlyTheHeader) {
  // Cut the archive far behind the header: a preview must not notice, a listing must.
  ScratchDir dir;
  auto path = our_backup(dir, "b.tar.gz");
  auto size = fs::file_size(path);
  fs::resize_file(path, size / 2);
  auto preview = inspect(path, options_in(dir));
  ASSERT_TRUE(preview) << preview.error().message;
  EXPECT_EQ(preview->summary.kind, core::BackupKind::kRestorekit);
  auto o = options_in(dir);
  o.list_entries = ListEntries::kYes;
  auto listing = inspect(path, o);
  ASSERT_FALSE(listing);
  EXPECT_EQ(listing.error().code, ErrorCode::kTruncated);
}

TEST(Inspect, ListingOurBackupGivesEveryEntryInOrder) {
  ScratchDir dir;
  auto path = our_backup(dir, "b.zip");
  auto o = options_in(dir);
  o.list_entries = ListEntries::kYes;
  auto r = inspect(path, o);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->listing);
  auto entries = r->listing->records();
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), r->summary.header->total_entries);
  EXPECT_EQ(entries->front().path, core::kHeaderEntry);
  EXPECT_EQ(entries->back().path, core::kChecksumsEntry);
  EXPECT_TRUE(r->summary.listed);
}

class ForeignArchives : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(ForeignArchives, DatabaseIsFoundByContentAndCountedExactly) {
  auto [tool, command] = GetParam();
  RK_REQUIRE_TOOL(tool);
  ScratchDir dir;
  auto path = foreign_backup(dir, command, "foreign.bin");
  auto o = options_in(dir);
  o.profile = core::Profile{};
  o.profile->tenant_column = "company_id";
  auto r = inspect(path, o);
  ASSERT_TRUE(r) << r.error().message;
  const auto& s = r->summary;
  EXPECT_EQ(s.kind, core::BackupKind::kForeign);
  ASSERT_EQ(s.databases.size(), 1u);
  EXPECT_EQ(s.databases[0].entry, "app.sqlite");
  auto db = core::Database::open_untrusted(test::small_sample().database);
  ASSERT_TRUE(db);
  EXPECT_EQ(rows_of(s.databases[0], "persons"),
            static_cast<std::uint64_t>(*db->query_int("SELECT count(*) FROM persons")));
  EXPECT_EQ(rows_of(s.databases[0], "settings"),
            static_cast<std::uint64_t>(*db->query_int("SELECT count(*) FROM settings")));
  EXPECT_FALSE(s.databases[0].tenants.empty());
  EXPECT_EQ(s.document_files, test::small_sample().document_files);
  EXPECT_TRUE(s.oldest_mtime.has_value());
  EXPECT_TRUE(empty_dir(o.temp_dir)) << "staged databases must be removed";
}

INSTANTIATE_TEST_SUITE_P(
    PeerTools, ForeignArchives,
    ::testing::Values(std::pair<std::string, std::string>{"zip", "zip -qr"},
                      std::pair<std::string, std::string>{"7z", "7z a -t7z -bso0"},
                      std::pair<std::string, std::string>{"bsdtar", "bsdtar -czf"},
                      std::pair<std::string, std::string>{"bsdtar", "bsdtar --zstd -cf"},
                      std::pair<std::string, std::string>{"bsdtar", "bsdtar -cJf"}));

TEST(Inspect, PasswordZipListsNamesWithoutPasswordAndReadsContentsWithIt) {
  RK_REQUIRE_TOOL("zip");
  ScratchDir dir;
  auto path = foreign_backup(dir, "zip -qr -P s3cret", "zipcrypto.zip");
  auto o = options_in(dir);
  o.list_entries = ListEntries::kYes;
  auto without = inspect(path, o);
  ASSERT_TRUE(without) << without.error().message;
  ASSERT_TRUE(without->incomplete);
  EXPECT_EQ(without->incomplete->code, ErrorCode::kPasswordRequired);
  EXPECT_TRUE(without->summary.encrypted);
  ASSERT_TRUE(without->listing);
  EXPECT_GT(without->listing->size(), 10u);

  o.reader.passwords.candidates = {"s3cret"};
  auto with = inspect(path, o);
  ASSERT_TRUE(with) << with.error().message;
  EXPECT_FALSE(with->incomplete);
  EXPECT_EQ(with->summary.databases.size(), 1u);

  o.reader.passwords.candidates = {"wrong"};
  auto wrong = inspect(path, o);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::kBadPassword);
  EXPECT_TRUE(empty_dir(o.temp_dir));
}

TEST(Inspect, SevenZipAesZipIsReadWithThePassword) {
  RK_REQUIRE_TOOL("7z");
  ScratchDir dir;
  auto path = foreign_backup(dir, "7z a -tzip -mem=AES256 -pabc -bso0", "aes.zip");
  auto o = options_in(dir);
  o.reader.passwords.candidates = {"abc"};
  auto r = inspect(path, o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->summary.encrypted);
  EXPECT_EQ(r->summary.databases.size(), 1u);
}

TEST(Inspect, EncryptedSevenZipIsAClearError) {
  RK_REQUIRE_TOOL("7z");
  ScratchDir dir;
  auto path = foreign_backup(dir, "7z a -t7z -pabc -bso0", "enc.7z");
  auto o = options_in(dir);
  o.reader.passwords.candidates = {"abc"};
  auto r = inspect(path, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kEncryptionUnsupported);
}

TEST(Inspect, EncryptedOurBackupNeedsThePassword) {
  ScratchDir dir;
  auto path = our_backup(dir, "enc.zip", "pw");
  auto without = inspect(path, options_in(dir));
  ASSERT_TRUE(without);
  ASSERT_TRUE(without->incomplete);
  EXPECT_EQ(without->incomplete->code, ErrorCode::kPasswordRequired);
  auto o = options_in(dir);
  o.reader.passwords.candidates = {"pw"};
  auto with = inspect(path, o);
  ASSERT_TRUE(with) << with.error().message;
  EXPECT_EQ(with->summary.kind, core::BackupKind::kRestorekit);
  EXPECT_TRUE(with->summary.encrypted);
}

TEST(Inspect, HostileEntriesAreWarningsAndNeverExtracted) {
  RK_REQUIRE_TOOL("bsdtar");
  ScratchDir dir;
  fs::create_directories(dir / "h/docs");
  test::write_file(dir / "h/docs/ok.txt", "ok");
  fs::create_symlink("/etc/passwd", dir / "h/docs/passwd");
  fs::create_symlink("../../../../outside", dir / "h/docs/up");
  test::write_file(dir / "victim.txt", "x");
  // -P keeps the absolute path; -s rewrites a name into a traversal.
  ASSERT_EQ(test::sh("bsdtar -cPf hostile.tar h/docs '" + (dir / "victim.txt").string() +
                         "' && bsdtar -cf trav.tar -s ',^victim,../../victim,' victim.txt && "
                         "bsdtar -cf all.tar @hostile.tar @trav.tar",
                     dir.path()),
            0);
  auto o = options_in(dir);
  auto r = inspect(dir / "all.tar", o);
  ASSERT_TRUE(r) << r.error().message;
  std::set<std::string> codes;
  for (const auto& f : r->summary.findings) codes.insert(f.code);
  EXPECT_TRUE(codes.count("UNSAFE_LINK")) << "symlinks out";
  EXPECT_TRUE(codes.count("UNSAFE_PATH")) << "absolute path / traversal";
  EXPECT_GE(r->summary.findings.size(), 3u);
  EXPECT_TRUE(empty_dir(o.temp_dir));
}

TEST(Inspect, BadInputGivesCleanErrors) {
  ScratchDir dir;
  auto o = options_in(dir);
  EXPECT_EQ(inspect(dir / "missing.zip", o).error().code, ErrorCode::kNotFound);
  test::write_file(dir / "text.zip", "this is not a zip file at all, just text");
  EXPECT_EQ(inspect(dir / "text.zip", o).error().code, ErrorCode::kNotAnArchive);
  auto path = our_backup(dir, "cut.tar.zst");
  fs::resize_file(path, 100);
  auto cut = inspect(path, o);
  ASSERT_FALSE(cut);
  EXPECT_TRUE(cut.error().code == ErrorCode::kTruncated ||
              cut.error().code == ErrorCode::kCorruptData)
      << code_name(cut.error().code) << ": " << cut.error().message;
  EXPECT_TRUE(empty_dir(o.temp_dir));
}

TEST(Inspect, RepeatedInspectOfAnUnchangedArchiveComesFromTheIndex) {
  ScratchDir dir;
  auto path = foreign_backup(dir, "bsdtar --zstd -cf", "f.tar.zst");
  auto index = catalog::Index::open_memory();
  ASSERT_TRUE(index);
  auto o = options_in(dir);
  o.index = &*index;
  auto first = inspect(path, o);
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->from_index);
  auto second = inspect(path, o);
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->from_index);
  EXPECT_EQ(second->summary.databases.size(), first->summary.databases.size());
  EXPECT_EQ(second->summary.entries, first->summary.entries);
  o.list_entries = ListEntries::kYes;
  auto listed = inspect(path, o);
  ASSERT_TRUE(listed);
  EXPECT_TRUE(listed->from_index) << "a foreign inspect already listed every entry";
  ASSERT_TRUE(listed->listing);
  EXPECT_EQ(listed->listing->size(), first->summary.entries);
  // The index's listing is the archive's, entry for entry.
  o.index = nullptr;
  auto read = inspect(path, o);
  ASSERT_TRUE(read && read->listing);
  auto from_index = listed->listing->records();
  auto from_archive = read->listing->records();
  ASSERT_TRUE(from_index && from_archive);
  ASSERT_EQ(from_index->size(), from_archive->size());
  for (std::size_t i = 0; i < from_index->size(); ++i) {
    EXPECT_EQ((*from_index)[i].path, (*from_archive)[i].path);
    EXPECT_EQ((*from_index)[i].size, (*from_archive)[i].size);
    EXPECT_EQ((*from_index)[i].type, (*from_archive)[i].type);
  }
  o.index = &*index;
  // Any change to the file invalidates the entry.
  test::write_file(dir / "f2", "x");
  fs::rename(dir / "f2", path);
  auto changed = inspect(path, o);
  ASSERT_FALSE(changed);
}

TEST(Inspect, CorpusDatabasesInsideArchivesAreFound) {
  auto corpus = test::corpus_dir();
  if (!corpus) GTEST_SKIP() << "SKIPPED: corpus not found (set RESTOREKIT_CORPUS)";
  RK_REQUIRE_TOOL("bsdtar");
  ScratchDir dir;
  ASSERT_EQ(test::sh("bsdtar -czf corpus.tar.gz -C '" + (*corpus / "sqlite").string() +
                         "' Chinook_Sqlite.sqlite Northwind_small.sqlite",
                     dir.path()),
            0);
  auto r = inspect(dir / "corpus.tar.gz", options_in(dir));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->summary.databases.size(), 2u);
  for (const auto& db : r->summary.databases) {
    if (db.entry == "Chinook_Sqlite.sqlite") {
      EXPECT_EQ(rows_of(db, "Track"), 3503u);
    }
    if (db.entry == "Northwind_small.sqlite") {
      EXPECT_EQ(rows_of(db, "Order"), 830u);
      EXPECT_EQ(db.page_size, 1024);
    }
  }
}

// Every third-party archive (libarchive's regression suite, fuzz seeds) gives a report or a
// clean error, never a crash, and nothing is left in the scratch folder.
TEST(Inspect, EveryCorpusArchiveGivesAReportOrACleanError) {
  auto corpus = test::corpus_dir();
  if (!corpus) GTEST_SKIP() << "SKIPPED: corpus not found (set RESTOREKIT_CORPUS)";
  ScratchDir dir;
  int reports = 0;
  int errors = 0;
  for (const char* folder : {"libarchive", "hostile"}) {
    for (const auto& e : fs::directory_iterator(*corpus / folder)) {
      if (!e.is_regular_file() || e.path().extension() == ".md" || e.path().extension() == ".tsv") {
        continue;
      }
      auto o = options_in(dir);
      o.list_entries = ListEntries::kYes;
      o.reader.limits.max_total_bytes = 256u << 20;
      auto r = inspect(e.path(), o);
      if (r) {
        ++reports;
      } else {
        ++errors;
        EXPECT_FALSE(r.error().message.empty()) << e.path();
        EXPECT_NE(r.error().code, ErrorCode::kInternal) << e.path() << ": " << r.error().message;
      }
      EXPECT_TRUE(empty_dir(o.temp_dir)) << e.path();
    }
  }
  // The errors are formats and filters restorekit leaves out (rar, iso, lha, cab, .Z, lzip,
  // lzop, ...) and damaged archives; fewer than 130 reports would be a regression.
  EXPECT_GE(reports, 130) << errors << " errors";
  EXPECT_GT(errors, 10);
}

TEST(Inspect, CancellationStopsTheScan) {
  ScratchDir dir;
  auto path = foreign_backup(dir, "bsdtar -czf", "f.tar.gz");
  auto o = options_in(dir);
  o.cancel.cancel();
  auto r = inspect(path, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCancelled);
}

}  // namespace
}  // namespace restorekit::inspect
