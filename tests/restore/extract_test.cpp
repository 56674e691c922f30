// extract(): chosen files out of archives made by stock tools (bsdtar, Info-ZIP) and by
// restorekit, each checked before it appears under its name; hostile names and targets refused.
#include <restorekit/restore/extract.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <restorekit/core/backup.hpp>
#include <restorekit/core/checksum_index.hpp>
#include <restorekit/core/finding.hpp>
#include <restorekit/core/hash.hpp>
#include <restorekit/core/profile.hpp>

#include "test_support.hpp"

namespace restorekit::restore {
namespace {

std::vector<ExtractedEntry> entries_of(const ExtractReport& r) {
  auto records = r.listing->records();
  EXPECT_TRUE(records) << records.error().message;
  return records ? *records : std::vector<ExtractedEntry>{};
}

namespace fs = std::filesystem;
using test::files_below;
using test::ScratchDir;

// NFD: "Mu" + U+0308 + "ller" — the way macOS spells "Müller".
const std::string kNfdName = "Mu\xcc\x88ller Angebot.txt";

class Extract : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::have_tool("bsdtar") || !test::have_tool("zip")) {
      GTEST_SKIP() << "SKIPPED: bsdtar and zip are needed to make the foreign archives";
    }
    src_ = dir_ / "src";
    test::write_file(src_ / "docs/a/report.pdf", std::string(300000, 'r'));
    test::write_file(src_ / "docs/a/notes.txt", "first notes\n");
    test::write_file(src_ / "docs/b" / kNfdName, "angebot\n");
    test::write_file(src_ / "docs/b/deep/x.pdf", "x pdf\n");
    test::write_file(src_ / "other.txt", "other\n");
    ASSERT_EQ(test::sh("bsdtar --zstd -cf ../docs.tar.zst docs other.txt", src_), 0);
    ASSERT_EQ(test::sh("bsdtar -czf ../docs.tar.gz docs other.txt", src_), 0);
    ASSERT_EQ(test::sh("zip -qr ../docs.zip docs other.txt", src_), 0);
  }

  Result<ExtractReport> run(const fs::path& archive, std::vector<std::string> patterns,
                            const fs::path& out, Overwrite overwrite = Overwrite::kNever) {
    ExtractOptions o;
    o.patterns = std::move(patterns);
    o.out = out;
    o.overwrite = overwrite;
    return extract(archive, o);
  }

  // The first finding with `code`, or nullptr.
  const core::Finding* finding(const ExtractReport& r, std::string_view code) {
    auto it = std::find_if(r.findings.begin(), r.findings.end(),
                           [&](const core::Finding& f) { return f.code == code; });
    return it == r.findings.end() ? nullptr : &*it;
  }

  ScratchDir dir_;
  fs::path src_;
};

TEST_F(Extract, FilesMatchingThePatternsComeOutByteForByteFromBsdtarAndZipArchives) {
  for (const char* name : {"docs.tar.zst", "docs.tar.gz", "docs.zip"}) {
    fs::path out = dir_ / fmt::format("out-{}", name);
    auto r = run(dir_ / name, {"docs/a/*", "*.pdf"}, out);
    ASSERT_TRUE(r) << name << ": " << r.error().message;
    EXPECT_EQ(files_below(out), (std::vector<std::string>{"docs/a/notes.txt", "docs/a/report.pdf",
                                                          "docs/b/deep/x.pdf"}))
        << name;
    for (const auto& f : files_below(out)) {
      EXPECT_EQ(test::read_file(out / f), test::read_file(src_ / f)) << name << " " << f;
    }
    EXPECT_EQ(r->files, 3u);
    EXPECT_FALSE(r->failed());
    for (const auto& x : entries_of(*r)) {
      if (x.folder) continue;
      EXPECT_TRUE(x.placed) << x.path;
      // bsdtar writes zstd frames without checksums: nothing but a checksum list checks them.
      EXPECT_EQ(x.checked, std::string_view(name) == "docs.tar.zst" ? CheckedBy::kNothing
                                                                    : CheckedBy::kArchive)
          << name << " " << x.path;
      EXPECT_EQ(x.xxh128, core::hash_file(src_ / x.path).value()) << x.path;
    }
  }
}

TEST_F(Extract, APatternInOneUnicodeSpellingMatchesANameInTheOther) {
  std::string nfc_pattern = "M\xc3\xbcller*";  // "Müller*", composed
  // Info-ZIP keeps the name's bytes (bsdtar would store it composed).
  auto r = run(dir_ / "docs.zip", {nfc_pattern}, dir_ / "out");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(files_below(dir_ / "out"), std::vector<std::string>{"docs/b/" + kNfdName})
      << "written byte-exact under the name the archive holds";
}

TEST_F(Extract, APatternThatMatchesNothingStopsTheRunAndWritesNothing) {
  auto r = run(dir_ / "docs.tar.zst", {"docs/a/*", "nothing-like-this*"}, dir_ / "out");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("nothing-like-this*"), std::string::npos) << r.error().message;
  EXPECT_TRUE(files_below(dir_ / "out").empty());
  EXPECT_FALSE(fs::exists(dir_ / "out")) << "a folder the run made for nothing is removed";
}

TEST_F(Extract, AnExistingFileStopsTheRunUnlessOverwriteIsGiven) {
  fs::path out = dir_ / "out";
  test::write_file(out / "docs/a/notes.txt", "mine, newer\n");
  auto refused = run(dir_ / "docs.zip", {"docs/a/*"}, out);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_EQ(test::read_file(out / "docs/a/notes.txt"), "mine, newer\n");
  EXPECT_EQ(files_below(out), std::vector<std::string>{"docs/a/notes.txt"})
      << "nothing else was placed either";
  auto replaced = run(dir_ / "docs.zip", {"docs/a/*"}, out, Overwrite::kReplace);
  ASSERT_TRUE(replaced) << replaced.error().message;
  EXPECT_EQ(test::read_file(out / "docs/a/notes.txt"), "first notes\n");
  EXPECT_EQ(files_below(out).size(), 2u);
}

TEST_F(Extract, ASymbolicLinkInTheTargetIsNeverFollowed) {
  fs::path out = dir_ / "out";
  fs::path elsewhere = dir_ / "elsewhere";
  fs::create_directories(out);
  fs::create_directories(elsewhere);
  fs::create_directory_symlink(elsewhere, out / "docs");
  auto r = run(dir_ / "docs.tar.zst", {"docs/a/notes.txt"}, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnsafePath) << r.error().message;
  EXPECT_TRUE(files_below(elsewhere).empty()) << "nothing was written through the link";
}

TEST_F(Extract, AFileThatFailsTheCallersChecksumIsNotWrittenAndTheOthersAre) {
  auto good = core::hash_file(src_ / "docs/a/report.pdf").value().hex();
  test::write_file(
      dir_ / "list.xxh128",
      fmt::format("{}  docs/a/report.pdf\n{}  docs/a/notes.txt\n", good, std::string(32, '0')));
  ExtractOptions o;
  o.patterns = {"docs/a/*"};
  o.out = dir_ / "out";
  o.checksums_file = dir_ / "list.xxh128";
  auto r = extract(dir_ / "docs.tar.zst", o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->failed());
  EXPECT_EQ(files_below(o.out), std::vector<std::string>{"docs/a/report.pdf"});
  const auto* mismatch = finding(*r, "CHECKSUM_MISMATCH");
  ASSERT_NE(mismatch, nullptr);
  EXPECT_EQ(mismatch->entry, "docs/a/notes.txt");
  EXPECT_EQ(r->files, 1u);
}

TEST_F(Extract, ADamagedZipEntryIsNotWrittenAndTheOthersAre) {
  // Stored (zip -0): the text of other.txt is in the file as it is; change one byte of it.
  ASSERT_EQ(test::sh("zip -q0r ../stored.zip docs other.txt", src_), 0);
  std::string zip = test::read_file(dir_ / "stored.zip");
  auto at = zip.find("first notes");
  ASSERT_NE(at, std::string::npos);
  zip[at] = 'F';
  test::write_file(dir_ / "stored.zip", zip);
  auto r = run(dir_ / "stored.zip", {}, dir_ / "out");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->failed());
  auto files = files_below(dir_ / "out");
  EXPECT_EQ(std::count(files.begin(), files.end(), "docs/a/notes.txt"), 0);
  EXPECT_EQ(files.size(), 4u) << "every other file is extracted";
  const auto* crc = finding(*r, "CRC_ERROR");
  ASSERT_NE(crc, nullptr);
  EXPECT_EQ(crc->entry, "docs/a/notes.txt") << crc->message;
}

TEST_F(Extract, OurBackupsChecksumListIsTheCheckAndAWrongLineKeepsItsFileOut) {
  // A plain tar (no compression, no checks of its own) carrying a checksum list as restorekit
  // writes it, with one wrong line: the list is the only check, and it is the last entry.
  auto good = core::hash_file(src_ / "docs/a/report.pdf").value().hex();
  test::write_file(
      src_ / "restorekit/checksums.xxh128",
      fmt::format("{}  docs/a/report.pdf\n{}  docs/a/notes.txt\n", good, std::string(32, 'f')));
  ASSERT_EQ(test::sh("bsdtar -cf ../plain.tar docs restorekit/checksums.xxh128", src_), 0);
  auto r = run(dir_ / "plain.tar", {"docs/a/*", "*.pdf"}, dir_ / "out");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(files_below(dir_ / "out"),
            (std::vector<std::string>{"docs/a/report.pdf", "docs/b/deep/x.pdf"}));
  for (const auto& x : entries_of(*r)) {
    if (x.path == "docs/b/deep/x.pdf") {
      EXPECT_EQ(x.checked, CheckedBy::kNothing);
    }
    if (x.path == "docs/a/report.pdf") {
      EXPECT_EQ(x.checked, CheckedBy::kChecksumList);
    }
  }
  ASSERT_NE(finding(*r, "CHECKSUM_MISMATCH"), nullptr);
  EXPECT_EQ(finding(*r, "CHECKSUM_MISMATCH")->entry, "docs/a/notes.txt");
}

TEST_F(Extract, FilesOfOurOwnBackupAreCheckedAgainstItsChecksumList) {
  if (!test::have_tool("sqlite3")) GTEST_SKIP() << "SKIPPED: sqlite3 makes the database";
  ASSERT_EQ(
      test::sh("sqlite3 app.sqlite 'CREATE TABLE t(x); INSERT INTO t VALUES (1);'", dir_.path()),
      0);
  auto made =
      test::run({test::restorekit_exe(), "backup", "--db", (dir_ / "app.sqlite").string(), "--docs",
                 (src_ / "docs").string(), "-o", (dir_ / "ours.tar.zst").string(), "--quiet"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto r = run(dir_ / "ours.tar.zst", {"docs/*"}, dir_ / "out");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(files_below(dir_ / "out").size(), 4u);
  for (const auto& x : entries_of(*r)) {
    if (!x.folder) {
      EXPECT_EQ(x.checked, CheckedBy::kChecksumList) << x.path;
    }
  }
  EXPECT_FALSE(r->failed());
  EXPECT_FALSE(fs::exists(dir_ / "out" / "restorekit")) << "the metadata stays inside";
}

TEST_F(Extract, HostileNamesAreReportedAndNothingLandsOutsideTheFolder) {
  test::write_bytes(dir_ / "hostile.tar", test::raw_tar({{"../escape.txt", 0100000, "x", ""},
                                                         {"/abs.txt", 0100000, "x", ""},
                                                         {"docs/link", 0120000, "", "/etc/passwd"},
                                                         {"docs/fine.txt", 0100000, "fine", ""}}));
  auto r = run(dir_ / "hostile.tar", {}, dir_ / "out" / "in");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(files_below(dir_ / "out"), std::vector<std::string>{"in/docs/fine.txt"});
  EXPECT_FALSE(fs::exists(dir_ / "escape.txt"));
  EXPECT_FALSE(fs::exists(dir_ / "out" / "escape.txt"));
  std::vector<std::string> codes;
  for (const auto& f : r->findings) codes.push_back(f.code);
  EXPECT_EQ(std::count(codes.begin(), codes.end(), "UNSAFE_PATH"), 2)
      << testing::PrintToString(codes);
  EXPECT_TRUE(r->failed());
}

// A name that comes twice (byte for byte, or in the other Unicode spelling) is extracted once:
// the first, with DUPLICATE_ENTRY for the later one, which is not in the listing.
TEST_F(Extract, ANameThatComesTwiceIsExtractedOnceTheFirstTime) {
  test::write_file(src_ / "nfc/M\xc3\xbcller Angebot.txt", "nfc\n");
  test::write_file(src_ / "nfd" / kNfdName, "nfd\n");
  // Two spellings under one folder name, and the same file added twice.
  ASSERT_EQ(test::sh("bsdtar -cf ../dup.tar -s '|^nf[cd]/|docs/b/|' nfc nfd docs/a/notes.txt "
                     "docs/a/notes.txt",
                     src_),
            0);
  for (auto mode : {ExtractMode::kWrite, ExtractMode::kListOnly}) {
    ExtractOptions o;
    o.out = dir_ / (mode == ExtractMode::kWrite ? "out" : "listed");
    o.mode = mode;
    auto r = extract(dir_ / "dup.tar", o);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->failed());
    std::vector<std::string> duplicates;
    for (const auto& f : r->findings) {
      if (f.code == "DUPLICATE_ENTRY") duplicates.push_back(f.entry);
    }
    // Names are listed in NFC, the spelling the first (NFC) entry and the name rule agree on.
    EXPECT_EQ(duplicates,
              (std::vector<std::string>{"docs/b/M\xc3\xbcller Angebot.txt", "docs/a/notes.txt"}));
    std::vector<std::string> files;
    for (const auto& x : entries_of(*r)) {
      if (!x.folder) files.push_back(x.path);
    }
    EXPECT_EQ(files,
              (std::vector<std::string>{"docs/b/M\xc3\xbcller Angebot.txt", "docs/a/notes.txt"}));
    EXPECT_EQ(r->files, 2u);
    if (mode == ExtractMode::kWrite) {
      EXPECT_EQ(test::read_file(o.out / "docs/b/M\xc3\xbcller Angebot.txt"), "nfc\n");
      EXPECT_EQ(files_below(o.out).size(), 2u);
    }
  }
}

// Files that fail their checks are listed up to core::kFindingsListed of a kind, the rest
// counted: 1,200 stored entries whose CRC-32 no longer matches, then a caller's list wrong about
// 1,200 files (a report of millions of failed files held a finding each).
TEST_F(Extract, ManyFailedFilesAreListedUpToALimitAndTheRestCounted) {
  ASSERT_EQ(test::sh("mkdir many && cd many && for i in $(seq -w 1 1200); do echo content-$i > "
                     "f$i.txt; done && cd .. && zip -q0r ../many.zip many",
                     src_),
            0);
  std::string wrong;
  for (int i = 1; i <= 1200; ++i) {
    wrong += fmt::format("{}  many/f{:04}.txt\n", std::string(32, '0'), i);
  }
  test::write_file(dir_ / "wrong.xxh128", wrong);
  auto data = test::read_file(dir_ / "many.zip");
  std::string damaged = data;
  for (auto at = damaged.find("content-"); at != std::string::npos;
       at = damaged.find("content-", at)) {
    damaged[at] = 'C';
  }
  test::write_file(dir_ / "damaged.zip", damaged);
  auto count = [](const ExtractReport& r, const std::string& code) {
    std::pair<std::size_t, std::string> out;  // listed, the sentence for the rest
    for (const auto& f : r.findings) {
      if (f.code != code) continue;
      if (f.entry.empty()) {
        out.second = f.message;
      } else {
        ++out.first;
      }
    }
    return out;
  };
  auto broken = run(dir_ / "damaged.zip", {}, dir_ / "out-damaged");
  ASSERT_TRUE(broken) << broken.error().message;
  auto [crc, crc_rest] = count(*broken, "CRC_ERROR");
  EXPECT_EQ(crc, core::kFindingsListed);
  EXPECT_NE(crc_rest.find("200 more entries have CRC_ERROR"), std::string::npos) << crc_rest;
  EXPECT_EQ(broken->files, 0u);

  ExtractOptions o;
  o.out = dir_ / "out-wrong";
  o.checksums_file = dir_ / "wrong.xxh128";
  auto mismatched = extract(dir_ / "many.zip", o);
  ASSERT_TRUE(mismatched) << mismatched.error().message;
  auto [bad, bad_rest] = count(*mismatched, "CHECKSUM_MISMATCH");
  EXPECT_EQ(bad, core::kFindingsListed);
  EXPECT_NE(bad_rest.find("200 more entries have CHECKSUM_MISMATCH"), std::string::npos)
      << bad_rest;
  EXPECT_EQ(mismatched->files, 0u);
  EXPECT_TRUE(files_below(o.out).empty());
}

// A caller's list may name any algorithm xxhsum writes (XXH32, XXH64, XXH3-64, XXH3-128); the
// last line of a name counts; a list too long to sort in memory checks exactly as a short one.
TEST_F(Extract, ACallersListOfAnyAlgorithmAndAnyLengthChecksTheSame) {
  if (!test::have_tool("xxhsum")) GTEST_SKIP() << "SKIPPED: xxhsum writes the list";
  ASSERT_EQ(test::sh("xxhsum -H0 docs/a/report.pdf > ../short && "
                     "xxhsum -H1 docs/a/notes.txt >> ../short && "
                     "xxhsum --tag -H3 docs/b/deep/x.pdf >> ../short && "
                     "xxhsum -H2 other.txt >> ../short",
                     src_),
            0);
  // notes.txt's line says something else later: the later line wins.
  std::ofstream(dir_ / "short", std::ios::app) << "XXH64 (docs/a/notes.txt) = 0123456789abcdef\n";
  std::string padding;
  for (int i = 0; i < 70000; ++i) {
    padding += fmt::format("{:032x}  elsewhere/file-{:06}.txt\n", i, i);
  }
  ASSERT_GT(padding.size(), core::ChecksumIndex::kInMemoryBytes);
  test::write_file(dir_ / "long", padding + test::read_file(dir_ / "short"));
  std::vector<std::string> seen;
  for (const char* list : {"short", "long"}) {
    ExtractOptions o;
    o.out = dir_ / fmt::format("out-{}", list);
    o.checksums_file = dir_ / list;
    auto r = extract(dir_ / "docs.tar.gz", o);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->failed());
    std::string summary;
    for (const auto& f : r->findings) summary += f.code + " " + f.entry + "\n";
    for (const auto& x : entries_of(*r)) {
      summary += fmt::format("{} {} {}\n", x.path, static_cast<int>(x.checked), x.placed);
    }
    seen.push_back(summary);
    EXPECT_EQ(files_below(o.out),
              (std::vector<std::string>{"docs/a/report.pdf", "docs/b/M\xc3\xbcller Angebot.txt",
                                        "docs/b/deep/x.pdf", "other.txt"}))
        << summary;
    ASSERT_NE(finding(*r, "CHECKSUM_MISMATCH"), nullptr);
    EXPECT_EQ(finding(*r, "CHECKSUM_MISMATCH")->entry, "docs/a/notes.txt");
    EXPECT_NE(finding(*r, "CHECKSUM_MISMATCH")->message.find("XXH64"), std::string::npos);
  }
  EXPECT_EQ(seen[0], seen[1]);
}

TEST_F(Extract, ListingWritesNothing) {
  ExtractOptions o;
  o.patterns = {"*.pdf"};
  o.out = dir_ / "out";
  o.mode = ExtractMode::kListOnly;
  auto r = extract(dir_ / "docs.zip", o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->files, 2u);
  EXPECT_EQ(r->bytes, 300000u + 6u);
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  test::write_file(o.out / "docs/a/report.pdf", "mine");
  auto again = extract(dir_ / "docs.zip", o);
  ASSERT_TRUE(again) << "a file in the way matters only when writing: " << again.error().message;
  EXPECT_EQ(test::read_file(o.out / "docs/a/report.pdf"), "mine");
}

TEST_F(Extract, TheCommandLineExtractsListsAndExitsAsDocumented) {
  fs::path out = dir_ / "cli-out";
  auto done = test::run({test::restorekit_exe(), "extract", (dir_ / "docs.zip").string(), "*.txt",
                         "-o", out.string(), "--json"});
  EXPECT_EQ(done.exit_code, 0) << done.err;
  EXPECT_NE(done.out.find("\"restorekit.extract/1\""), std::string::npos) << done.out;
  EXPECT_EQ(files_below(out).size(), 3u);
  // The entries are printed as the listing is walked: still the one document, members in order.
  auto listed = test::run(
      {test::restorekit_exe(), "extract", (dir_ / "docs.zip").string(), "--list", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  auto doc = nlohmann::ordered_json::parse(listed.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << listed.out;
  EXPECT_EQ(doc.dump(2) + "\n", listed.out);
  std::vector<std::string> members;
  for (const auto& [key, value] : doc.items()) members.push_back(key);
  EXPECT_EQ(members, (std::vector<std::string>{"schema", "path", "out", "list_only", "verdict",
                                               "entries", "findings", "totals", "seconds"}));
  std::size_t files = 0;
  for (const auto& e : doc["entries"]) files += e["type"] == "file" ? 1 : 0;
  EXPECT_EQ(files, 5u);
  EXPECT_EQ(doc["totals"]["files"], 5);
  auto again = test::run({test::restorekit_exe(), "extract", (dir_ / "docs.zip").string(), "*.txt",
                          "-o", out.string()});
  EXPECT_EQ(again.exit_code, 2) << "files exist: " << again.err;
  EXPECT_NE(again.err.find("--overwrite"), std::string::npos) << again.err;
  test::write_file(dir_ / "bad.xxh128", std::string(32, '0') + "  other.txt\n");
  auto bad =
      test::run({test::restorekit_exe(), "extract", (dir_ / "docs.zip").string(), "other.txt", "-o",
                 (dir_ / "cli-bad").string(), "--checksums", (dir_ / "bad.xxh128").string()});
  EXPECT_EQ(bad.exit_code, 1) << "a checksum failed: " << bad.out << bad.err;
  EXPECT_NE(bad.out.find("CHECKSUM_MISMATCH"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace restorekit::restore

namespace restorekit::restore {
namespace {

using test::files_below;

// Documents chosen through the database: a schema made with sqlite3, rows that name documents
// directly (persons.photo) and through children (documents.person_id -> persons), a composite
// key (notes), one referenced document missing from the backup.
class ExtractByRows : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {"sqlite3", "zip"}) {
      if (!test::have_tool(tool)) GTEST_SKIP() << "SKIPPED: " << tool << " is needed";
    }
    test::write_file(dir_ / "app/docs/c1/a.pdf", "person 1's pdf\n");
    test::write_file(dir_ / "app/docs/c1/photo1.jpg", "photo of person 1\n");
    test::write_file(dir_ / "app/docs/c1/note.txt", "note 1,1\n");
    test::write_file(dir_ / "app/docs/c2/b.pdf", "person 3's pdf\n");
    test::write_file(dir_ / "app/docs/orphan.txt", "nobody's\n");
    test::write_file(dir_ / "schema.sql", R"sql(
      CREATE TABLE companies(id INTEGER PRIMARY KEY, name TEXT);
      CREATE TABLE persons(id INTEGER PRIMARY KEY, company_id INTEGER REFERENCES companies(id),
                           name TEXT, photo TEXT);
      CREATE TABLE documents(id INTEGER PRIMARY KEY, person_id INTEGER REFERENCES persons(id),
                             company_id INTEGER, path TEXT);
      CREATE TABLE notes(company_id INTEGER, n INTEGER, attachment TEXT,
                         PRIMARY KEY(company_id, n)) WITHOUT ROWID;
      INSERT INTO companies VALUES (1, 'Acme'), (2, 'Zeta');
      INSERT INTO persons VALUES (1, 1, 'Ann', 'c1/photo1.jpg'), (2, 1, 'Bob', NULL),
                                 (3, 2, 'Cy', '');
      INSERT INTO documents VALUES (10, 1, 1, 'c1/a.pdf'), (11, 3, 2, 'c2/b.pdf'),
                                   (12, 3, 2, 'c2/missing.pdf');
      INSERT INTO notes VALUES (1, 1, 'c1/note.txt'), (1, 2, NULL);
      CREATE TABLE labels(code PRIMARY KEY, file);  -- no declared types: no affinity
      INSERT INTO labels VALUES (5, 'orphan.txt'), ('x5', 'c2/b.pdf');
    )sql");
    ASSERT_EQ(test::sh("sqlite3 app/app.sqlite < schema.sql", dir_.path()), 0);
    test::write_file(dir_ / "app.toml", R"(
      [database]
      tenant_column = "company_id"
      [documents]
      root = "docs/"
      references = ["documents.path", "persons.photo", "notes.attachment", "labels.file"]
    )");
    auto made = test::run(
        {test::restorekit_exe(), "backup", "--db", (dir_ / "app/app.sqlite").string(), "--docs",
         (dir_ / "app/docs").string(), "-o", (dir_ / "ours.tar.zst").string(), "--quiet"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    // Info-ZIP adds in argument order: the documents come before the database.
    ASSERT_EQ(test::sh("zip -qr ../foreign.zip docs app.sqlite", dir_ / "app"), 0);
    profile_ = core::load_profile(dir_ / "app.toml").value();
  }

  Result<ExtractReport> run(const std::string& archive, DocumentChoice choice,
                            std::vector<std::string> patterns = {}) {
    ExtractOptions o;
    o.out = dir_ / fmt::format("out{}", ++runs_);
    o.patterns = std::move(patterns);
    o.documents = std::move(choice);
    o.profile = profile_;
    return extract(dir_ / archive, o);
  }

  std::vector<std::string> extracted() const {
    return files_below(dir_ / fmt::format("out{}", runs_));
  }

  ScratchDir dir_;
  core::Profile profile_;
  int runs_ = 0;
};

TEST_F(ExtractByRows, ATenantsDocumentsComeOutOfOurBackupAndAForeignZip) {
  for (const char* archive : {"ours.tar.zst", "foreign.zip"}) {
    auto r = run(archive, DocumentChoice{{"1"}, {}});
    ASSERT_TRUE(r) << archive << ": " << r.error().message;
    EXPECT_EQ(extracted(),
              (std::vector<std::string>{"docs/c1/a.pdf", "docs/c1/note.txt", "docs/c1/photo1.jpg"}))
        << archive;
    EXPECT_FALSE(r->failed()) << archive;
  }
}

TEST_F(ExtractByRows, ARowBringsItsOwnDocumentsAndThoseOfRowsPointingAtIt) {
  auto r = run("foreign.zip", DocumentChoice{{}, {RowRef{"persons", {"1"}}}});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(extracted(), (std::vector<std::string>{"docs/c1/a.pdf", "docs/c1/photo1.jpg"}));
  auto composite = run("ours.tar.zst", DocumentChoice{{}, {RowRef{"notes", {"1", "1"}}}});
  ASSERT_TRUE(composite) << composite.error().message;
  EXPECT_EQ(extracted(), std::vector<std::string>{"docs/c1/note.txt"});
  // A key typed on the command line finds an integer stored without a declared type, and text.
  auto untyped = run("ours.tar.zst", DocumentChoice{{}, {RowRef{"labels", {"5"}}}});
  ASSERT_TRUE(untyped) << untyped.error().message;
  EXPECT_EQ(extracted(), std::vector<std::string>{"docs/orphan.txt"});
  auto text = run("ours.tar.zst", DocumentChoice{{}, {RowRef{"labels", {"x5"}}}});
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(extracted(), std::vector<std::string>{"docs/c2/b.pdf"});
}

TEST_F(ExtractByRows, AMissingReferencedDocumentIsAWarningAndPatternsAddToTheChoice) {
  auto r = run("ours.tar.zst", DocumentChoice{{"2"}, {}}, {"orphan.txt"});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(extracted(), (std::vector<std::string>{"docs/c2/b.pdf", "docs/orphan.txt"}));
  auto missing = std::find_if(r->findings.begin(), r->findings.end(),
                              [](const core::Finding& f) { return f.code == "DOC_MISSING"; });
  ASSERT_NE(missing, r->findings.end());
  EXPECT_EQ(missing->severity, core::Severity::kWarning);
}

TEST_F(ExtractByRows, AnUnknownRowOrTenantOrNoProfileIsAnErrorAndNothingIsWritten) {
  auto no_row = run("ours.tar.zst", DocumentChoice{{}, {RowRef{"persons", {"99"}}}});
  ASSERT_FALSE(no_row);
  EXPECT_EQ(no_row.error().code, ErrorCode::kNotFound) << no_row.error().message;
  EXPECT_TRUE(extracted().empty());
  auto bad_key = run("ours.tar.zst", DocumentChoice{{}, {RowRef{"notes", {"1"}}}});
  ASSERT_FALSE(bad_key);
  EXPECT_EQ(bad_key.error().code, ErrorCode::kInvalidArgument) << bad_key.error().message;
  auto no_tenant = run("foreign.zip", DocumentChoice{{"77"}, {}});
  ASSERT_FALSE(no_tenant);
  EXPECT_EQ(no_tenant.error().code, ErrorCode::kNotFound) << no_tenant.error().message;
  EXPECT_TRUE(extracted().empty());
  ExtractOptions o;
  o.out = dir_ / "unused";
  o.documents.tenants = {"1"};
  auto no_profile = extract(dir_ / "ours.tar.zst", o);
  ASSERT_FALSE(no_profile);
  EXPECT_EQ(no_profile.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(ExtractByRows, TheCommandLineTakesTenantsRowsAndPatternsInAnyOrder) {
  auto out = dir_ / "cli";
  auto r = test::run({test::restorekit_exe(), "extract", (dir_ / "ours.tar.zst").string(),
                      "--profile", (dir_ / "app.toml").string(), "--tenant", "2", "orphan.txt",
                      "--row", "persons:1", "-o", out.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* f :
       {"docs/c2/b.pdf", "docs/orphan.txt", "docs/c1/a.pdf", "docs/c1/photo1.jpg"}) {
    EXPECT_TRUE(fs::exists(out / f)) << f << "\n" << r.out;
  }
  auto bad =
      test::run({test::restorekit_exe(), "extract", (dir_ / "ours.tar.zst").string(), "--profile",
                 (dir_ / "app.toml").string(), "--row", "persons", "-o", out.string()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("TABLE:KEY"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace restorekit::restore
