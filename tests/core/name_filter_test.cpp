#include "name_filter.hpp"

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace restorekit::core::detail {
namespace {

struct Row {
  std::uint64_t index;
  std::string path;
  bool folder = false;
  bool safe = true;
};

// Fed in batches of up to three rows, as the store's writer hands them over.
NameFilter filter_of(const std::vector<Row>& rows) {
  NameFilter f;
  std::vector<NameFilter::Name> batch;
  for (const auto& r : rows) {
    batch.push_back({r.index, r.path, std::nullopt, r.folder, r.safe});
    if (batch.size() == 3) {
      f.add(batch);
      batch.clear();
    }
  }
  f.add(batch);
  return f;
}

TEST(NameFilter, ARowWrittenTwiceIsNoDuplicateTheSameNameFromAnotherEntryIs) {
  auto once = filter_of({{0, "docs/a"}, {1, "docs/b"}, {0, "docs/a"}, {1, "docs/b"}});
  EXPECT_FALSE(once.may_have_duplicates());
  EXPECT_FALSE(once.may_have_conflicts());
  EXPECT_TRUE(filter_of({{0, "docs/a"}, {1, "docs/b"}, {2, "docs/a"}}).may_have_duplicates());
  // Folders of one name are no duplicates; an unsafe file's name still counts.
  EXPECT_FALSE(filter_of({{0, "docs", true}, {1, "docs", true}}).may_have_duplicates());
  EXPECT_TRUE(filter_of({{0, "x", false, false}, {1, "x"}}).may_have_duplicates());
}

TEST(NameFilter, AFileThatIsAlsoAFolderOrAPrefixIsAConflictInEitherOrder) {
  EXPECT_TRUE(filter_of({{0, "a"}, {1, "a/b"}}).may_have_conflicts());
  EXPECT_TRUE(filter_of({{0, "a/b/c"}, {1, "a/b"}}).may_have_conflicts());
  EXPECT_TRUE(filter_of({{0, "a"}, {1, "a", true}}).may_have_conflicts());
  EXPECT_TRUE(filter_of({{0, "a", true}, {1, "a"}}).may_have_conflicts());
  // A folder with entries below it, a name that only starts like another, unsafe paths.
  EXPECT_FALSE(filter_of({{0, "a", true}, {1, "a/b"}, {2, "a/b.txt"}, {3, "ab"}, {4, "a.b/c"}})
                   .may_have_conflicts());
  EXPECT_FALSE(filter_of({{0, "a"}, {1, "a/b", false, false}}).may_have_conflicts());
}

TEST(NameFilter, NamesWithKeysOfTheirOwnLeaveConflictsToTheWalk) {
  NameFilter f;
  std::vector<NameFilter::Name> nfd = {
      {0, "docs/Zu\xcc\x88rich", std::string_view("docs/Z\xc3\xbcrich"), false, true}};
  f.add(nfd);
  EXPECT_TRUE(f.may_have_conflicts());
  EXPECT_FALSE(f.may_have_duplicates());
  std::vector<NameFilter::Name> nfc = {{1, "docs/Z\xc3\xbcrich", std::nullopt, false, true}};
  f.add(nfc);
  EXPECT_TRUE(f.may_have_duplicates()) << "the same key from another entry";
}

TEST(NameFilter, MoreNamesThanItHoldsAndItGivesUp) {
  NameFilter f;
  std::uint64_t i = 0;
  auto add_one = [&] {
    std::string path = fmt::format("d{}/f{}", i % 7, i);
    std::vector<NameFilter::Name> one = {{i, path, std::nullopt, false, true}};
    f.add(one);
  };
  for (; i < NameFilter::kMaxNames; ++i) add_one();
  ASSERT_FALSE(f.may_have_duplicates() || f.may_have_conflicts()) << "as many names as it holds";
  add_one();
  EXPECT_TRUE(f.may_have_duplicates());
  EXPECT_TRUE(f.may_have_conflicts());
}

// Against brute force: a clash is never missed, and clash-free listings (distinct names in
// shared folders, as archives hold them) pass without one.
TEST(NameFilter, NeverMissesAClashAndPassesListingsWithout) {
  const std::vector<std::string> parts = {"a", "b", "a.", "ab", "c"};
  std::mt19937 rng(20261205);
  int clean = 0;
  for (int round = 0; round < 3000; ++round) {
    std::vector<Row> rows;
    std::size_t n = 1 + rng() % 12;
    for (std::uint64_t i = 0; i < n; ++i) {
      std::string path = parts[rng() % parts.size()];
      for (std::size_t depth = rng() % 3; depth > 0; --depth) {
        path += "/" + parts[rng() % parts.size()];
      }
      rows.push_back(Row{i, path, rng() % 4 == 0, rng() % 8 != 0});
      if (rng() % 5 == 0) rows.push_back(rows.back());  // a listing row and its reader's
    }
    bool duplicate = false;
    bool conflict = false;
    for (const auto& r : rows) {
      for (const auto& q : rows) {
        if (!r.folder && !q.folder && r.path == q.path && r.index != q.index) duplicate = true;
        if (!r.safe || r.folder || !q.safe) continue;
        if (q.path.rfind(r.path + "/", 0) == 0 || (q.path == r.path && q.folder)) conflict = true;
      }
    }
    auto f = filter_of(rows);
    std::string listing;
    for (const auto& r : rows)
      listing += fmt::format("{}:{}{} ", r.index, r.path, r.folder ? "/" : "");
    if (duplicate) {
      EXPECT_TRUE(f.may_have_duplicates()) << listing;
    }
    if (conflict) {
      EXPECT_TRUE(f.may_have_conflicts()) << listing;
    }
    bool unsafe = std::any_of(rows.begin(), rows.end(), [](const Row& r) { return !r.safe; });
    if (!duplicate && !conflict && !unsafe) {
      ++clean;
      EXPECT_FALSE(f.may_have_duplicates() || f.may_have_conflicts()) << listing;
    }
  }
  EXPECT_GT(clean, 100) << "the rounds should include listings without a clash";
}

}  // namespace
}  // namespace restorekit::core::detail
