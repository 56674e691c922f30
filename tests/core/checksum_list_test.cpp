#include <restorekit/core/checksum_list.hpp>

#include <gtest/gtest.h>

namespace restorekit::core {
namespace {

TEST(ChecksumList, ReadsGnuAndBsdLinesOfEveryAlgorithm) {
  auto list = parse_checksum_list(
      "946b5bf9  d/a.txt\n"
      "e4c191d091bd8853 *./d/b.txt\n"
      "6bba86c7e069f56d5a10b435f1c8e49c  d/c.txt\n"
      "XXH3 (d/e.txt) = 99fc819aaba2462a\n"
      "XXH32 (d/f.txt) = 946B5BF9\n"
      "XXH64_LE (d/g.txt) = 5388bd91d091c1e4\n"
      "# comment\n\n"
      "\\6bba86c7e069f56d5a10b435f1c8e49c  d/back\\\\slash.txt\n"
      "XXH128 (d/h (1).txt) = 6bba86c7e069f56d5a10b435f1c8e49c\n"
      "XXH3_LE (d/i.txt) = 2a46a2ab9a81fc99\n",
      "sums");
  ASSERT_TRUE(list) << list.error().message;
  ASSERT_EQ(list->size(), 9u);
  EXPECT_EQ((*list)[0].algorithm, HashAlgorithm::kXxh32);
  EXPECT_EQ((*list)[1].algorithm, HashAlgorithm::kXxh64);
  EXPECT_EQ((*list)[1].path, "d/b.txt");
  EXPECT_EQ((*list)[2].algorithm, HashAlgorithm::kXxh128);
  EXPECT_EQ((*list)[3].algorithm, HashAlgorithm::kXxh3_64);
  EXPECT_EQ((*list)[4].hex, "946b5bf9");
  EXPECT_EQ((*list)[5].hex, "e4c191d091bd8853") << "little-endian output is reversed";
  EXPECT_EQ((*list)[6].path, "d/back/slash.txt") << "a backslash is a separator once unescaped";
  EXPECT_EQ((*list)[6].line, 9u);
  EXPECT_EQ((*list)[7].algorithm, HashAlgorithm::kXxh128);
  EXPECT_EQ((*list)[7].path, "d/h (1).txt");
  EXPECT_EQ((*list)[8].algorithm, HashAlgorithm::kXxh3_64);
  EXPECT_EQ((*list)[8].hex, "99fc819aaba2462a");
}

TEST(ChecksumList, MalformedOrUnsafeLinesAreErrorsWithTheirNumber) {
  for (const char* bad :
       {"nothex  file\n", "946b5bf9 file\n", "12345  odd-length\n", "946b5bf9  ../escape\n",
        "946b5bf9  /etc/passwd\n", "XXH64 (f) = 123\n"}) {
    auto list = parse_checksum_list(std::string("946b5bf9  ok\n") + bad, "sums.txt");
    ASSERT_FALSE(list) << bad;
    EXPECT_NE(list.error().message.find("line 2"), std::string::npos) << list.error().message;
    EXPECT_NE(list.error().message.find("sums.txt"), std::string::npos);
  }
}

}  // namespace
}  // namespace restorekit::core
