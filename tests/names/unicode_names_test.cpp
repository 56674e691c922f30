// One rule for Unicode names (issue 19; DESIGN.md "Names"): names are stored and restored
// byte-exact, and compared under NFC wherever two names meet — references with entries,
// checksum lists with entries, archive documents with live ones, catalog patterns with entries.
// The cases are built with stock tools (bsdtar, Info-ZIP zip, Python's zipfile and tarfile) on
// real NFD and NFC names.
#include <set>

#include <gtest/gtest.h>

#include <restorekit/catalog/index.hpp>
#include <restorekit/core/backup.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/sqlite.hpp>
#include <restorekit/diff/diff.hpp>
#include <restorekit/restore/restore.hpp>
#include <restorekit/verify/verify.hpp>

#include "test_support.hpp"

namespace restorekit::test {
namespace {

const std::string kNfd = "Zu\xcc\x88rich_NFD_000013.jpg";  // as macOS writes it
const std::string kNfc = "Z\xc3\xbcrich_NFD_000013.jpg";   // as bsdtar's pax writer stores it

std::vector<std::string> finding_codes(const verify::VerifyReport& r, const std::string& code) {
  std::vector<std::string> out;
  for (const auto& f : r.findings) {
    if (f.code == code) out.push_back(f.entry + ": " + f.message);
  }
  return out;
}

std::string all_findings(const verify::VerifyReport& r) {
  std::string out;
  for (const auto& f : r.findings) out += f.code + " " + f.entry + ": " + f.message + "\n";
  return out;
}

// An application folder: app.sqlite whose documents(path) rows reference docs/ files, one by
// its NFD name (present on disk in NFD), one that is really missing.
class UnicodeNames : public ::testing::Test {
 protected:
  void SetUp() override {
    app_ = scratch_ / "app";
    write_file(app_ / "docs" / kNfd, "jpeg bytes");
    write_file(app_ / "docs" / "plain.txt", "plain");
    auto db = core::Database::open(app_ / "app.sqlite", core::OpenMode::kCreate);
    ASSERT_TRUE(db);
    ASSERT_TRUE(
        db->exec("CREATE TABLE documents(id INTEGER PRIMARY KEY, path TEXT NOT NULL);"
                 "INSERT INTO documents(path) VALUES ('plain.txt'), ('missing.pdf');"));
    auto st = db->prepare("INSERT INTO documents(path) VALUES (?1)");
    ASSERT_TRUE(st);
    st->bind(1, kNfd);
    ASSERT_TRUE(st->step());
  }

  verify::VerifyOptions with_references() const {
    verify::VerifyOptions o;
    o.profile = core::Profile{};
    o.profile->references = {{"documents", "path"}};
    o.profile->documents_root = "docs/";
    return o;
  }

  ScratchDir scratch_;
  fs::path app_;
};

TEST_F(UnicodeNames, ReferencesInNfdMatchEntriesInNfcFromEveryTool) {
  RK_REQUIRE_TOOL("bsdtar");
  RK_REQUIRE_TOOL("zip");
  RK_REQUIRE_TOOL("python3");
  std::vector<fs::path> archives;
  // bsdtar's pax writer stores the NFC spelling.
  ASSERT_EQ(
      sh("LC_ALL=C.UTF-8 bsdtar -cf " + (scratch_ / "bsdtar.tar").string() + " app.sqlite docs",
         app_),
      0);
  archives.push_back(scratch_ / "bsdtar.tar");
  // Info-ZIP keeps the bytes (NFD).
  ASSERT_EQ(sh("LC_ALL=C.UTF-8 zip -qr " + (scratch_ / "infozip.zip").string() + " app.sqlite docs",
               app_),
            0);
  archives.push_back(scratch_ / "infozip.zip");
  // Python writes the entry in NFC (what a Windows tool would), the row stays NFD.
  ASSERT_EQ(sh("python3 -c \"import zipfile,unicodedata as u,os\n"
               "z=zipfile.ZipFile('" +
                   (scratch_ / "python.zip").string() +
                   "','w')\n"
                   "z.write('app.sqlite')\n"
                   "for n in os.listdir('docs'): z.write('docs/'+n, u.normalize('NFC','docs/'+n))\n"
                   "z.close()\"",
               app_),
            0);
  archives.push_back(scratch_ / "python.zip");
  for (const auto& a : archives) {
    SCOPED_TRACE(a.filename().string());
    auto r = verify::verify(a, with_references());
    ASSERT_TRUE(r) << r.error().message;
    auto missing = finding_codes(*r, "DOC_MISSING");
    ASSERT_EQ(missing.size(), 1u) << all_findings(*r);
    EXPECT_NE(missing.front().find("missing.pdf"), std::string::npos) << missing.front();
    EXPECT_EQ(missing.front().find("rich"), std::string::npos) << missing.front();
  }
}

TEST_F(UnicodeNames, OurBackupStoresNfdByteExactAndStockToolsCheckIt) {
  RK_REQUIRE_TOOL("python3");
  RK_REQUIRE_TOOL("bsdtar");
  RK_REQUIRE_TOOL("unzip");
  RK_REQUIRE_TOOL("xxhsum");
  for (std::string name : {"b.tar.zst", "b.zip", "b.tar.gz"}) {
    SCOPED_TRACE(name);
    core::BackupOptions o;
    o.database = app_ / "app.sqlite";
    o.documents = app_ / "docs";
    o.output = scratch_ / name;
    auto b = core::write_backup(o);
    ASSERT_TRUE(b) << b.error().message;
    // The bytes in the archive are the bytes on disk, as Python's own readers see them.
    std::string list =
        name == "b.zip"
            ? "import zipfile; n=zipfile.ZipFile('" + o.output.string() + "').namelist()"
            : "import tarfile; n=tarfile.open('" +
                  (name == "b.tar.zst" ? (scratch_ / "b.tar").string() : o.output.string()) +
                  "').getnames()";
    if (name == "b.tar.zst") {
      ASSERT_EQ(sh("zstd -qdf " + o.output.string() + " -o " + (scratch_ / "b.tar").string()), 0);
    }
    ASSERT_EQ(sh("python3 -c \"" + list +
                 "; import sys; sys.exit(0 if 'docs/Zu\\u0308rich_NFD_000013.jpg' in n else 1)\""),
              0)
        << "the NFD name was not stored byte-exact";
    verify::VerifyOptions vo;
    auto r = verify::verify(o.output, vo);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->intact()) << all_findings(*r);
    // Stock tools: extract, then xxhsum -c the checksum list.
    auto out = scratch_ / ("x-" + name);
    fs::create_directories(out);
    std::string extract = name == "b.zip" ? "unzip -q " + o.output.string()
                                          : "LC_ALL=C.UTF-8 bsdtar -xf " + o.output.string();
    ASSERT_EQ(sh(extract, out), 0);
    EXPECT_EQ(sh("xxhsum -c restorekit/checksums.xxh128", out), 0);
  }
}

// A backup whose names are all in NFC stores them as UTF-8, as POSIX pax wants them, so GNU
// tar reads it without a warning per entry (it does not know pax's hdrcharset) and a short
// ASCII name needs no pax header at all. One name in NFD, and every name is stored raw
// (hdrcharset=BINARY): libarchive's readers turn UTF-8 names into NFC, raw ones they keep.
TEST_F(UnicodeNames, OurTarHeadersAreUtf8WhereEveryNameIsNfc) {
  RK_REQUIRE_TOOL("python3");
  RK_REQUIRE_TOOL("tar");
  fs::path nfc_docs = scratch_ / "nfc-docs";
  write_file(nfc_docs / kNfc, "jpeg bytes");
  write_file(nfc_docs / "plain.txt", "plain");
  fs::path nfd_db = scratch_ / "Zu\xcc\x88rich.sqlite";
  fs::copy_file(app_ / "app.sqlite", nfd_db);
  struct Case {
    std::string name;
    fs::path db, docs;
    bool nfd;
  };
  for (const auto& c : {Case{"nfc.tar.gz", app_ / "app.sqlite", nfc_docs, false},
                        Case{"nfd-doc.tar.gz", app_ / "app.sqlite", app_ / "docs", true},
                        Case{"nfd-db.tar.gz", nfd_db, nfc_docs, true}}) {
    SCOPED_TRACE(c.name);
    core::BackupOptions o;
    o.database = c.db;
    o.documents = c.docs;
    o.output = scratch_ / c.name;
    auto b = core::write_backup(o);
    ASSERT_TRUE(b) << b.error().message;
    auto names = tar_members(o.output);
    EXPECT_TRUE(names.contains("docs/" + (c.docs == nfc_docs ? kNfc : kNfd))) << "not byte-exact";
    EXPECT_TRUE(names.contains("db/" + c.db.stem().string() + ".sqlite")) << "not byte-exact";
    EXPECT_TRUE(names.contains("docs/plain.txt"));
    for (const auto& [name, binary] : names) EXPECT_EQ(binary, c.nfd) << name;
    auto listed = run({"tar", "-tzf", o.output.string()});
    EXPECT_EQ(listed.exit_code, 0) << listed.err;
    if (!c.nfd) {
      EXPECT_EQ(listed.err, "") << "GNU tar warned about our headers";
      auto pax = run({"python3", "-c",
                      "import sys, tarfile\n"
                      "print(sum(1 for m in tarfile.open(sys.argv[1]) if m.pax_headers))",
                      o.output.string()});
      EXPECT_EQ(pax.out, "1\n") << "only the non-ASCII name needs a pax header";
    }
    verify::VerifyOptions vo;
    auto r = verify::verify(o.output, vo);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->intact()) << all_findings(*r);
  }
}

TEST_F(UnicodeNames, LiveDocumentsInNfdAreTheBackupsNfcDocuments) {
  RK_REQUIRE_TOOL("bsdtar");
  ASSERT_EQ(
      sh("LC_ALL=C.UTF-8 bsdtar -cf " + (scratch_ / "b.tar").string() + " app.sqlite docs", app_),
      0);
  verify::VerifyOptions vo;
  auto r = verify::verify(scratch_ / "b.tar", vo);
  ASSERT_TRUE(r);
  auto files = r->listing->records();
  ASSERT_TRUE(files);
  std::erase_if(*files, [](const core::EntryRecord& e) { return e.path == "app.sqlite"; });
  auto d = diff::diff_documents(*files, "docs/", app_ / "docs", 10);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->unchanged, 2u);
  EXPECT_EQ(d->lost, 0u) << "one document counted as lost and revived";
  EXPECT_EQ(d->revived, 0u);
}

TEST_F(UnicodeNames, TwoSpellingsInTheLiveFolderAreReportedWithBoth) {
  write_file(app_ / "docs" / kNfc, "the other spelling");
  std::vector<core::EntryRecord> files = {{"docs/" + kNfd, core::EntryType::kFile, 10, 0, false,
                                           true, core::hash128(std::string_view("jpeg bytes"))}};
  auto d = diff::diff_documents(files, "docs/", app_ / "docs", 10);
  ASSERT_TRUE(d) << d.error().message;
  ASSERT_EQ(d->live_duplicates.size(), 1u);
  std::set<std::string> both = {d->live_duplicates[0].first, d->live_duplicates[0].second};
  EXPECT_EQ(both, (std::set<std::string>{kNfd, kNfc}));
  EXPECT_EQ(d->unchanged + d->changed, 1u);
  EXPECT_EQ(d->lost, 2u) << "plain.txt and the spelling the backup does not hold";
}

TEST_F(UnicodeNames, TwoSpellingsOfOneNameInOneArchiveAreReportedWithBoth) {
  RK_REQUIRE_TOOL("python3");
  // GNU tar names are stored and read as raw bytes: both spellings survive.
  ASSERT_EQ(sh("python3 -c \"import tarfile,io\n"
               "t=tarfile.open('" +
               (scratch_ / "two.tar").string() +
               "','w',format=tarfile.GNU_FORMAT)\n"
               "for n in ['docs/Zu\\u0308rich.jpg','docs/Z\\u00fcrich.jpg']:\n"
               "  i=tarfile.TarInfo(n); i.size=1; t.addfile(i, io.BytesIO(b'x'))\n"
               "t.close()\""),
            0);
  verify::VerifyOptions vo;
  auto r = verify::verify(scratch_ / "two.tar", vo);
  ASSERT_TRUE(r) << r.error().message;
  auto dup = finding_codes(*r, "DUPLICATE_ENTRY");
  ASSERT_EQ(dup.size(), 1u) << all_findings(*r);
  EXPECT_NE(dup.front().find("Zu\xcc\x88rich.jpg"), std::string::npos) << dup.front();
  EXPECT_NE(dup.front().find("Z\xc3\xbcrich.jpg"), std::string::npos) << dup.front();
}

TEST_F(UnicodeNames, CatalogFindMatchesEitherSpelling) {
  auto index = catalog::Index::open_memory();
  ASSERT_TRUE(index);
  core::ArchiveSummary s;
  s.path = "/backups/mac.zip";
  s.listed = true;
  std::vector<core::EntryRecord> entries = {
      {"docs/" + kNfd, core::EntryType::kFile, 1, 0, false, true, std::nullopt}};
  auto store = core::EntryStore::from_records(entries);
  ASSERT_TRUE(store);
  ASSERT_TRUE(index->put(s, store->get()));
  for (const std::string& pattern :
       {"docs/" + kNfc, std::string("*rich_NFD*"), std::string("Z\xc3\xbc*")}) {
    auto found = index->find_entries(pattern, 10);
    ASSERT_TRUE(found) << found.error().message;
    ASSERT_EQ(found->size(), 1u) << pattern;
    EXPECT_EQ(found->front().entry.path, "docs/" + kNfd) << "listed as stored";
  }
}

TEST_F(UnicodeNames, ARestoreWritesTheNameAsTheBackupHoldsIt) {
  core::BackupOptions o;
  o.database = app_ / "app.sqlite";
  o.documents = app_ / "docs";
  o.output = scratch_ / "b.tar.zst";
  ASSERT_TRUE(core::write_backup(o));
  auto live = scratch_ / "live";
  fs::create_directories(live / "docs");
  fs::copy_file(app_ / "app.sqlite", live / "app.sqlite");
  restore::PlanOptions po;
  po.live = live / "app.sqlite";
  po.live_documents = live / "docs";
  po.plan_out = scratch_ / "plan";
  auto p = restore::plan(o.output, po);
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_TRUE(p->safe());
  auto r = restore::apply(*p, {});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->applied) << r->refusal.message;
  EXPECT_TRUE(fs::exists(live / "docs" / kNfd)) << "the NFD name was not restored byte-exact";
  EXPECT_FALSE(fs::exists(live / "docs" / kNfc));
}

}  // namespace
}  // namespace restorekit::test
