// Memory stays bounded by streaming, not by the entry count (DESIGN.md: peak RSS <= 64 MiB for
// any archive size and up to 10M entries). A tar.zst and a zip of many empty entries made by
// bsdtar from an mtree spec are verified (with the catalog on, as the command runs by default)
// and inspected by the real executable under /usr/bin/time, and each child's peak RSS is
// asserted. The zip's directory is what libarchive would hold whole (118 MiB for this one, two
// readers each holding it, before the directory was read in windows).
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <restorekit/core/backup_format.hpp>
#include <restorekit/core/hash.hpp>

#include "test_support.hpp"

namespace restorekit::test {
namespace {

constexpr std::uint64_t kEntries = 300'000;
constexpr std::uint64_t kBudgetKiB = 64 * 1024;

// Peak RSS in KiB, from GNU time's last line on stderr.
std::uint64_t peak_kib(const CommandResult& r) {
  auto end = r.err.find_last_not_of('\n');
  auto start = r.err.find_last_of('\n', end);
  return std::stoull(r.err.substr(start == std::string::npos ? 0 : start + 1));
}

TEST(Memory, ManyEntriesAreVerifiedAndInspectedWithinTheBudget) {
#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "SKIPPED: AddressSanitizer's shadow memory is not restorekit's; the release "
                  "suite asserts the budget";
#endif
  if (!fs::exists("/usr/bin/time")) GTEST_SKIP() << "SKIPPED: /usr/bin/time is not installed";
  RK_REQUIRE_TOOL("bsdtar");
  ScratchDir dir;
  // 300k empty entries in 25 folders, described as an mtree spec that bsdtar turns into
  // archives: with long names for the tar (the GNU format's long-name records), shorter ones for
  // the zip (which stores each name twice).
  for (auto [spec_name, pad] : {std::pair{"long.mtree", 150}, std::pair{"short.mtree", 20}}) {
    std::ofstream spec(dir / spec_name);
    spec << "#mtree\n";
    std::string padding(static_cast<std::size_t>(pad), 'n');
    for (std::uint64_t i = 0; i < kEntries; ++i) {
      spec << fmt::format("./docs/f{:02}/{}-{:07}.txt type=file size=0 mode=0644 time=1700000000\n",
                          i % 25, padding, i);
    }
  }
  ASSERT_EQ(sh("bsdtar --format gnutar --zstd -cf many.tar.zst @long.mtree", dir.path()), 0);
  ASSERT_EQ(sh("bsdtar --format zip -cf many.zip @short.mtree", dir.path()), 0);
  std::string catalog = (dir / "catalog.sqlite").string();
  for (const char* archive : {"many.tar.zst", "many.zip"}) {
    std::string path = (dir / archive).string();
    for (const std::vector<std::string>& command :
         {std::vector<std::string>{"verify", path, "--catalog", catalog},
          std::vector<std::string>{"inspect", path, "--no-catalog"}}) {
      std::vector<std::string> argv = {"/usr/bin/time", "-f", "%M", restorekit_exe()};
      argv.insert(argv.end(), command.begin(), command.end());
      auto r = run(argv);
      ASSERT_EQ(r.exit_code, 0) << command[0] << " " << archive << ": " << r.err;
      EXPECT_NE(r.out.find("300,000"), std::string::npos) << r.out;
      EXPECT_LE(peak_kib(r), kBudgetKiB)
          << command[0] << " of " << archive << ", " << kEntries << " entries";
    }
  }
}

// Our own backup of many documents: its checksum list holds a line per document, which verify
// merges against the entries on disk (held, parsed and keyed in memory, the list of this backup
// took 241 MiB). The backup is written by bsdtar from an mtree spec, in format v1's layout (the
// header first, the database, the documents, the list last), and must verify intact.
TEST(Memory, OurBackupOfManyDocumentsIsVerifiedWithinTheBudget) {
#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "SKIPPED: AddressSanitizer's shadow memory is not restorekit's; the release "
                  "suite asserts the budget";
#endif
  if (!fs::exists("/usr/bin/time")) GTEST_SKIP() << "SKIPPED: /usr/bin/time is not installed";
  RK_REQUIRE_TOOL("bsdtar");
  RK_REQUIRE_TOOL("sqlite3");
  ScratchDir dir;
  ASSERT_EQ(sh("sqlite3 app.sqlite 'CREATE TABLE t(x); INSERT INTO t VALUES(1)' && : > empty",
               dir.path()),
            0);
  auto db_hash = core::hash_file(dir / "app.sqlite");
  auto empty_hash = core::hash_file(dir / "empty");
  ASSERT_TRUE(db_hash && empty_hash);
  auto db_bytes = fs::file_size(dir / "app.sqlite");
  core::BackupHeader h;
  h.created_at = "2026-12-04T00:00:00Z";
  h.tool_version = "0.2.0";
  h.source_host = "test";
  h.source_database = "/srv/app.sqlite";
  h.source_documents = "/srv/docs";
  h.databases.push_back(core::HeaderDatabase{"db/app.sqlite", db_bytes, 0, 4096, {{"t", 1}}, {}});
  h.document_files = kEntries;
  h.total_entries = kEntries + 3;
  h.total_bytes = db_bytes;
  std::ofstream(dir / "header.json") << core::header_to_json(h);
  std::ofstream list(dir / "checksums.xxh128");
  std::ofstream spec(dir / "ours.mtree");
  std::string padding(150, 'n');
  spec << "#mtree\n"
       << "./restorekit/header.json type=file mode=0644 time=1700000000 contents=header.json\n"
       << "./db/app.sqlite type=file mode=0644 time=1700000000 contents=app.sqlite\n";
  list << core::checksum_line("db/app.sqlite", *db_hash);
  for (std::uint64_t i = 0; i < kEntries; ++i) {
    auto name = fmt::format("docs/f{:02}/{}-{:07}.txt", i % 25, padding, i);
    spec << "./" << name << " type=file size=0 mode=0644 time=1700000000\n";
    list << core::checksum_line(name, *empty_hash);
  }
  spec << "./restorekit/checksums.xxh128 type=file mode=0644 time=1700000000 "
          "contents=checksums.xxh128\n";
  spec.close();
  list.close();
  ASSERT_EQ(sh("bsdtar --format gnutar --zstd -cf ours.tar.zst @ours.mtree", dir.path()), 0);
  auto r = run({"/usr/bin/time", "-f", "%M", restorekit_exe(), "verify",
                (dir / "ours.tar.zst").string(), "--no-catalog"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("300,003"), std::string::npos) << r.out;
  EXPECT_LE(peak_kib(r), kBudgetKiB) << "verify of our backup of " << kEntries << " documents";
}

}  // namespace
}  // namespace restorekit::test
