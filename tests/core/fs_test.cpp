#include <restorekit/core/fs.hpp>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace restorekit::core {
namespace {

namespace fs = std::filesystem;

TEST(TempDir, IsPrivateAndRemovedWithItsContents) {
  test::ScratchDir parent;
  fs::path kept;
  {
    auto t = TempDir::create(parent.path(), "x-");
    ASSERT_TRUE(t);
    kept = t->path();
    EXPECT_EQ(fs::status(kept).permissions() & fs::perms::all, fs::perms::owner_all);
    test::write_file(kept / "a/b/c.txt", "data");
  }
  EXPECT_FALSE(fs::exists(kept));
  auto bad = TempDir::create(parent / "missing/deeper");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kIo);
}

TEST(CreateNewFile, NeverOverwritesNorFollowsLinks) {
  test::ScratchDir dir;
  test::write_file(dir / "exists", "old");
  EXPECT_FALSE(create_new_file(dir / "exists"));
  EXPECT_EQ(test::read_file(dir / "exists"), "old");
  fs::create_symlink(dir / "target", dir / "link");
  EXPECT_FALSE(create_new_file(dir / "link"));
  EXPECT_FALSE(fs::exists(dir / "target"));
  auto fd = create_new_file(dir / "fresh");
  ASSERT_TRUE(fd);
  ASSERT_TRUE(write_all(fd->get(), "abc", 3, "fresh"));
  ASSERT_TRUE(sync_fd(fd->get(), "fresh"));
  EXPECT_EQ(test::read_file(dir / "fresh"), "abc");
}

TEST(RenameDurably, ReplacesAtomically) {
  test::ScratchDir dir;
  test::write_file(dir / "new", "new");
  test::write_file(dir / "old", "old");
  ASSERT_TRUE(rename_durably(dir / "new", dir / "old"));
  EXPECT_EQ(test::read_file(dir / "old"), "new");
  EXPECT_FALSE(rename_durably(dir / "gone", dir / "old"));
}

TEST(ReadSmallFile, BoundsTheSize) {
  test::ScratchDir dir;
  test::write_file(dir / "f", std::string(100, 'x'));
  EXPECT_EQ(read_small_file(dir / "f")->size(), 100u);
  EXPECT_EQ(read_small_file(dir / "f", 10).error().code, ErrorCode::kLimitExceeded);
  EXPECT_EQ(read_small_file(dir / "none").error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace restorekit::core
