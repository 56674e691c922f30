// The totals a summary reads (verify/src/summary.hpp) come from the entry store's tally where it
// answers, without walking every entry: they must be what the walk gives, for every root and
// set of database names, on archives made by stock tools.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <random>

#include <restorekit/verify/verify.hpp>

#include "summary.hpp"
#include "test_support.hpp"

namespace restorekit::verify {
namespace {

using test::ScratchDir;
namespace fs = std::filesystem;

std::string describe(const detail::EntryTotals& t) {
  auto count = [](const detail::FileCount& c) {
    return std::to_string(c.files) + " files, " + std::to_string(c.bytes) + " bytes";
  };
  return "encrypted " + std::to_string(t.encrypted) + "; times " +
         std::to_string(t.oldest_mtime.value_or(-1)) + ".." +
         std::to_string(t.newest_mtime.value_or(-1)) + "; all " + count(t.all) + "; docs " +
         count(t.docs) + "; under the root " + count(t.under_root);
}

// Verifies `archive` and compares the two ways of totalling its entries for each root and set
// of database names. @return whether the store kept a tally.
bool expect_tally_matches_walk(const fs::path& archive, const ScratchDir& dir, unsigned readers = 1,
                               std::size_t zip_window = 8192) {
  VerifyOptions o;
  o.temp_dir = dir / "tmp";
  o.threads = readers;
  o.reader.zip_window_entries = zip_window;
  fs::create_directories(o.temp_dir);
  auto report = verify(archive, o);
  EXPECT_TRUE(report) << report.error().message;
  if (!report) return false;
  EXPECT_EQ(report->threads, readers) << archive.filename();
  const auto& store = *report->listing;
  for (std::string root : {"", "docs/", "other/", "other/deep/", "restorekit/", "none/"}) {
    for (const auto& names :
         std::vector<std::vector<std::string>>{{},
                                               {"db/app.sqlite"},
                                               {"docs/a/1.txt", "top.txt"},
                                               {"restorekit/x.txt"},
                                               {"../evil.txt", "other/deep/f.bin"}}) {
      std::vector<detail::DatabaseCheck> databases(names.size());
      for (std::size_t i = 0; i < names.size(); ++i) databases[i].result.entry = names[i];
      auto tallied = detail::total_entries(store, databases, root);
      auto walked = detail::total_entries(store, databases, root, detail::Totalling::kWalk);
      EXPECT_TRUE(tallied && walked);
      if (!tallied || !walked) continue;
      EXPECT_EQ(describe(*tallied), describe(*walked))
          << archive.filename() << ", root \"" << root << "\", " << names.size() << " names";
    }
  }
  return store.tally().has_value();
}

// A tree with files at the top, under docs/, restorekit/ and deeper folders, a database name,
// an empty folder, a link, a file dated 0 and one whose name is unsafe (bsdtar's -s).
void make_tree(const ScratchDir& dir) {
  test::write_file(dir / "t/docs/a/1.txt", "one\n");
  test::write_file(dir / "t/docs/b/2.txt", std::string(3000, 'b'));
  test::write_file(dir / "t/restorekit/x.txt", "listed\n");
  test::write_file(dir / "t/db/app.sqlite", std::string(8192, 's'));
  test::write_file(dir / "t/top.txt", "top\n");
  test::write_file(dir / "t/other/deep/f.bin", std::string(777, 'f'));
  test::write_file(dir / "t/evil.txt", "climbs\n");
  // Two big entries of bytes that do not compress, so that a zip is read by two readers.
  std::mt19937_64 rng(20261206);
  for (const char* big : {"t/docs/big-1.bin", "t/other/big-2.bin"}) {
    std::string bytes(200'000, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    test::write_file(dir / big, bytes);
  }
  fs::create_directories(dir / "t/empty");
  fs::create_symlink("a/1.txt", dir / "t/docs/link");
  ASSERT_EQ(test::sh("touch -d @0 t/other/deep/f.bin", dir.path()), 0);
}

TEST(EntryTotals, TheTallyGivesWhatAWalkOfEveryEntryGives) {
  RK_REQUIRE_TOOL("bsdtar");
  RK_REQUIRE_TOOL("zip");
  ScratchDir dir;
  make_tree(dir);
  const std::string files = "docs restorekit db top.txt other evil.txt empty";
  ASSERT_EQ(test::sh("cd t && bsdtar -cf ../t.tar -s ',^evil,../evil,' " + files, dir.path()), 0);
  ASSERT_EQ(test::sh("cd t && bsdtar --zstd -cf ../t.tar.zst " + files, dir.path()), 0);
  ASSERT_EQ(test::sh("cd t && zip -qry ../t.zip " + files, dir.path()), 0);
  // The database's name twice: which entry the name leaves out needs the walk.
  ASSERT_EQ(test::sh("cp t.tar twice.tar && cd t && bsdtar -rf ../twice.tar db", dir.path()), 0);
  EXPECT_TRUE(expect_tally_matches_walk(dir / "t.tar", dir));
  EXPECT_TRUE(expect_tally_matches_walk(dir / "t.tar.zst", dir));
  EXPECT_TRUE(expect_tally_matches_walk(dir / "t.zip", dir));
  // Two readers: reader 0 lists every entry and each owner's row replaces its listing.
  EXPECT_FALSE(expect_tally_matches_walk(dir / "t.zip", dir, 2));
  // A zip of 1,024 entries or more is read in parts, each reader its own windows of the
  // directory: each entry's row once, but in no one order.
  for (int i = 0; i < 1100; ++i) test::write_file(dir / fmt::format("t/many/{}.txt", i), "m");
  ASSERT_EQ(test::sh("cd t && zip -qry ../big.zip many " + files, dir.path()), 0);
  EXPECT_TRUE(expect_tally_matches_walk(dir / "big.zip", dir, 2));
  EXPECT_TRUE(expect_tally_matches_walk(dir / "big.zip", dir, 3, 100));
  EXPECT_TRUE(expect_tally_matches_walk(dir / "twice.tar", dir));
}

// More first folders than the tally keeps: it gives up, and the walk answers.
TEST(EntryTotals, FilesUnderManyFirstFoldersAreTotalledByTheWalk) {
  RK_REQUIRE_TOOL("bsdtar");
  ScratchDir dir;
  make_tree(dir);
  for (int i = 0; i < 300; ++i) test::write_file(dir / "t/many" / std::to_string(i) / "f", "x");
  ASSERT_EQ(test::sh("cd t && bsdtar -cf ../t.tar .", dir.path()), 0);
  EXPECT_TRUE(expect_tally_matches_walk(dir / "t.tar", dir)) << "./many/… share one first folder";
  ASSERT_EQ(test::sh("cd t/many && bsdtar -cf ../../m.tar * && cd .. && bsdtar -rf ../m.tar docs",
                     dir.path()),
            0);
  EXPECT_FALSE(expect_tally_matches_walk(dir / "m.tar", dir));
}

}  // namespace
}  // namespace restorekit::verify
