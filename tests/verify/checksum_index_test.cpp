// The checksum list in name-key order: sorted in memory when short, in a temporary SQLite
// database when long. The two must hand out the same lines in the same order (check_backup's
// findings depend on it), whatever the names: Unicode spellings whose key differs from the name,
// two lines of one key, lines out of order, comments.
#include "checksum_index.hpp"

#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace restorekit::verify::detail {
namespace {

std::vector<std::string> walk(ChecksumIndex& index) {
  std::vector<std::string> out;
  EXPECT_TRUE(index.start());
  for (;;) {
    auto line = index.next();
    EXPECT_TRUE(line) << line.error().message;
    if (!line || !*line) break;
    out.push_back(fmt::format("{}|{}|{}|{}", (*line)->key, (*line)->number, (*line)->path,
                              (*line)->digest.hex()));
  }
  return out;
}

TEST(ChecksumIndex, InMemoryAndOnDiskGiveTheSameLinesInTheSameOrder) {
  test::ScratchDir dir;
  std::string text = "# restorekit\n";
  for (int i = 2000; i-- > 0;) {  // descending: the order comes from the sort, not the file
    text += fmt::format("{:032x}  docs/{}/f{}.txt\n", i * 104729, i % 7, i);
  }
  text += "0000000000000000000000000000000a  docs/Cafe\xcc\x81.txt\n";  // NFD: its key is NFC
  text += "0000000000000000000000000000000b  docs/Caf\xc3\xa9.txt\n";   // NFC: the same key
  text += "0000000000000000000000000000000c  docs/0/f0.txt\n";          // a second line of a key
  std::ofstream(dir / "list") << text;
  auto memory = ChecksumIndex::build(dir / "list", {});
  auto disk = ChecksumIndex::build(dir / "list", {}, 0);
  ASSERT_TRUE(memory && disk);
  ASSERT_FALSE(memory->bad());
  ASSERT_FALSE(disk->bad());
  auto a = walk(*memory);
  auto b = walk(*disk);
  ASSERT_EQ(a.size(), 2003u);
  EXPECT_EQ(a, b);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end(), [](const std::string& x, const std::string& y) {
    return x.substr(0, x.find('|')) < y.substr(0, y.find('|'));
  }));
  // Walked again from the start, the same lines.
  EXPECT_EQ(walk(*disk), b);

  for (const auto& broken : {text + "not a line\n", text + "946b5bf9  xxh32.txt\n"}) {
    std::ofstream(dir / "broken", std::ios::trunc) << broken;
    auto m = ChecksumIndex::build(dir / "broken", {});
    auto d = ChecksumIndex::build(dir / "broken", {}, 0);
    ASSERT_TRUE(m && d);
    ASSERT_TRUE(m->bad() && d->bad());
    EXPECT_EQ(m->bad()->message, d->bad()->message);
    EXPECT_NE(m->bad()->message.find("line 2005"), std::string::npos) << m->bad()->message;
  }
}

}  // namespace
}  // namespace restorekit::verify::detail
