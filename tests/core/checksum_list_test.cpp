#include <restorekit/core/checksum_list.hpp>

#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "test_support.hpp"

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
  for (const char* bad : {"nothex  file\n", "946b5bf9 file\n", "12345  odd-length\n",
                          "946b5bf9  ../escape\n", "946b5bf9  /etc/passwd\n", "XXH64 (f) = 123\n",
                          "946b5bf/  f\n", "946b5bf:  f\n", "946b5bf@  f\n", "946b5bfG  f\n",
                          "946b5bf`  f\n", "946b5bfg  f\n", "XXH32 (f) = 946b5bfG\n"}) {
    auto list = parse_checksum_list(std::string("946b5bf9  ok\n") + bad, "sums.txt");
    ASSERT_FALSE(list) << bad;
    EXPECT_NE(list.error().message.find("line 2"), std::string::npos) << list.error().message;
    EXPECT_NE(list.error().message.find("sums.txt"), std::string::npos);
  }
}

// A list read from a file in 64 KiB pieces gives what the same text parsed whole gives: lines
// that straddle two pieces, CRLF endings, comments, blank lines, a last line without its
// newline; and the same first malformed line.
TEST(ChecksumList, AFileReadInPiecesGivesWhatTheWholeTextGives) {
  test::ScratchDir dir;
  std::string text = "# made by xxhsum\r\n\n";
  for (int i = 0; i < 3000; ++i) {  // ~190 KiB: lines cross the 64 KiB piece boundaries
    text += fmt::format("{:032x}  docs/{}/{:0>40}.txt{}\n", i * 7919, i % 13, i,
                        i % 5 == 0 ? "\r" : "");
  }
  text += "XXH64 (last line.txt) = e4c191d091bd8853";  // no newline at the end
  auto whole = parse_checksum_list(text, "sums");
  ASSERT_TRUE(whole) << whole.error().message;
  std::ofstream(dir / "sums") << text;
  std::vector<ExpectedHash> read;
  auto streamed = for_each_checksum_line(dir / "sums", "sums", [&](ExpectedHash&& e) {
    read.push_back(std::move(e));
    return Result<void>{};
  });
  ASSERT_TRUE(streamed) << streamed.error().message;
  ASSERT_EQ(read.size(), whole->size());
  for (std::size_t i = 0; i < read.size(); ++i) {
    EXPECT_EQ(read[i].path, (*whole)[i].path);
    EXPECT_EQ(read[i].hex, (*whole)[i].hex);
    EXPECT_EQ(read[i].line, (*whole)[i].line);
    EXPECT_EQ(read[i].algorithm, (*whole)[i].algorithm);
  }

  std::string broken = text.substr(0, 100'000);
  broken.insert(broken.rfind('\n') + 1, "not a line\n");
  auto whole_error = parse_checksum_list(broken, "sums");
  ASSERT_FALSE(whole_error);
  std::ofstream(dir / "broken") << broken;
  auto stream_error =
      for_each_checksum_line(dir / "broken", "sums", [](ExpectedHash&&) { return Result<void>{}; });
  ASSERT_FALSE(stream_error);
  EXPECT_EQ(stream_error.error().message, whole_error.error().message);
}

// A line longer than any real one is an error naming it, whether it arrives within one piece or
// as the rest of a file without a newline: memory never holds more than one such line.
TEST(ChecksumList, ALineLongerThanTheLimitIsAnError) {
  test::ScratchDir dir;
  std::string huge = "946b5bf9  " + std::string(kMaxChecksumLine + 10, 'a');
  for (const auto& text :
       {"946b5bf9  ok\n" + huge + "\n946b5bf9  next\n", "946b5bf9  ok\n" + huge}) {
    std::ofstream(dir / "sums", std::ios::trunc) << text;
    auto r =
        for_each_checksum_line(dir / "sums", "sums", [](ExpectedHash&&) { return Result<void>{}; });
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("line 2 is longer than"), std::string::npos)
        << r.error().message;
  }
}

}  // namespace
}  // namespace restorekit::core
