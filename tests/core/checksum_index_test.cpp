// The checksum list in name-key order: sorted in memory when short, in a temporary SQLite
// database when long. The two must hand out the same lines in the same order (check_backup's
// findings depend on it), whatever the names: Unicode spellings whose key differs from the name,
// two lines of one key, lines out of order, comments.
#include <restorekit/core/checksum_index.hpp>
#include <restorekit/core/entry_store.hpp>

#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace restorekit::core {
namespace {

constexpr auto kOurs = ChecksumIndex::Accept::kXxh128Only;

std::vector<std::string> walk(ChecksumIndex& index) {
  std::vector<std::string> out;
  EXPECT_TRUE(index.start());
  for (;;) {
    auto line = index.next();
    EXPECT_TRUE(line) << line.error().message;
    if (!line || !*line) break;
    out.push_back(fmt::format("{}|{}|{}|{}", (*line)->key, (*line)->number, (*line)->path,
                              (*line)->expected_hex()));
  }
  return out;
}

// Writes `text` to `file` and builds it kept in memory and kept beyond it (a long list): both
// must call it bad() with the same message, and count no lines. @return that message.
std::string bad_alike(const std::filesystem::path& file, const std::string& text) {
  std::ofstream(file, std::ios::trunc) << text;
  auto m = ChecksumIndex::build(file, "list", kOurs, {});
  auto d = ChecksumIndex::build(file, "list", kOurs, {}, 0);
  EXPECT_TRUE(m && d);
  if (!m || !d || !m->bad() || !d->bad()) {
    ADD_FAILURE() << "not bad() both ways";
    return {};
  }
  EXPECT_EQ(m->bad()->message, d->bad()->message);
  EXPECT_EQ(d->size(), 0u);
  return m->bad()->message;
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
  auto memory = ChecksumIndex::build(dir / "list", "list", kOurs, {});
  auto disk = ChecksumIndex::build(dir / "list", "list", kOurs, {}, 0);
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
    EXPECT_NE(bad_alike(dir / "broken", broken).find("line 2005"), std::string::npos);
  }
}

// A long list already in key order (ours: backup writes it in name order) is not stored: each
// walk reads its file again. It must give what the sort in memory gives; a long list out of
// order goes into the database; a broken one is bad() with the same message.
TEST(ChecksumIndex, ALongListInKeyOrderIsReadFromItsFileAndGivesTheSameLines) {
  test::ScratchDir dir;
  std::string text = "# restorekit\n\n";
  for (int i = 0; i < 3000; ++i) text += fmt::format("{:032x}  docs/f{:05}.txt\n", i * 7919, i);
  text += "0000000000000000000000000000000a  docs/g/Cafe\xcc\x81.txt\n";  // NFD: its key is NFC,
  text += "0000000000000000000000000000000b  docs/g/Caf\xc3\xa9.txt\n";   // the same key
  text += "0000000000000000000000000000000c  docs/g/z.txt";               // no newline at the end
  std::ofstream(dir / "list") << text;
  auto memory = ChecksumIndex::build(dir / "list", "list", kOurs, {});
  auto file = ChecksumIndex::build(dir / "list", "list", kOurs, {}, 0);
  ASSERT_TRUE(memory && file);
  ASSERT_FALSE(file->bad()) << file->bad()->message;
  EXPECT_EQ(memory->held(), ChecksumIndex::Held::kMemory);
  EXPECT_EQ(file->held(), ChecksumIndex::Held::kFile);
  EXPECT_EQ(file->size(), 3003u);
  auto a = walk(*memory);
  ASSERT_EQ(a.size(), 3003u);
  EXPECT_EQ(walk(*file), a);
  EXPECT_EQ(walk(*file), a);  // walked again from the start

  // One line out of order anywhere, and the list goes into the database, sorted.
  std::string swapped = text;
  swapped.replace(swapped.find("docs/f02999"), 11, "docs/a02999");
  std::ofstream(dir / "swapped") << swapped;
  auto disk = ChecksumIndex::build(dir / "swapped", "list", kOurs, {}, 0);
  auto sorted = ChecksumIndex::build(dir / "swapped", "list", kOurs, {});
  ASSERT_TRUE(disk && sorted);
  EXPECT_EQ(disk->held(), ChecksumIndex::Held::kScratchDatabase);
  EXPECT_EQ(disk->size(), 3003u);
  EXPECT_EQ(walk(*disk), walk(*sorted));

  for (const auto& broken : {text + "\nnot a line\n", text + "\n946b5bf9  xxh32.txt\n"}) {
    EXPECT_NE(bad_alike(dir / "broken", broken).find("line 3006"), std::string::npos);
  }

  // The file changed after the build: the walk says so rather than hand out lines out of order,
  // wherever the line out of order falls (the walk parses 1,024 lines at a time ahead of it:
  // the 1,025th is the first of the second batch), or where lines went missing.
  std::string first_of_batch = text;
  first_of_batch.replace(first_of_batch.find("docs/f01024"), 11, "docs/a01024");
  std::string shorter = text.substr(0, text.find("docs/g/z.txt") - 34);
  for (const auto& now : {swapped, first_of_batch, shorter}) {
    std::ofstream(dir / "list", std::ios::trunc) << now;
    ASSERT_TRUE(file->start());
    Result<const ChecksumIndex::Line*> line = nullptr;
    do {
      line = file->next();
    } while (line && *line);
    ASSERT_FALSE(line);
    EXPECT_NE(line.error().message.find("changed while it was being read"), std::string::npos);
  }
}

// A caller's list (verify/extract --checksums) may name any algorithm xxhsum writes: a pass asks
// per entry which one to compute besides XXH3-128. The last line of a name wins; the name rule
// applies (an NFD line answers for the NFC entry); in memory and on disk answer alike.
TEST(ChecksumIndex, ACallersListSaysWhichOtherAlgorithmAnEntryNeeds) {
  test::ScratchDir dir;
  std::ofstream(dir / "theirs") << "946b5bf9  docs/a.txt\n"
                                   "XXH64 (docs/b.txt) = 0123456789abcdef\n"
                                   "0000000000000000000000000000000b  docs/b.txt\n"
                                   "XXH3 (docs/Cafe\xcc\x81.txt) = 0123456789abcdef\n"
                                   "00000000000000000000000000000001  docs/c.txt\n";
  std::ofstream(dir / "ours") << "00000000000000000000000000000001  docs/c.txt\n";
  for (std::uint64_t in_memory : {ChecksumIndex::kInMemoryBytes, std::uint64_t{0}}) {
    SCOPED_TRACE(in_memory);
    auto theirs = ChecksumIndex::build(dir / "theirs", "theirs",
                                       ChecksumIndex::Accept::kAnyAlgorithm, {}, in_memory);
    ASSERT_TRUE(theirs) << theirs.error().message;
    ASSERT_FALSE(theirs->bad());
    EXPECT_EQ(theirs->size(), 5u);
    auto other = [&](std::string_view path) {
      auto found = theirs->other_algorithm(path);
      EXPECT_TRUE(found);
      return found ? *found : std::nullopt;
    };
    EXPECT_EQ(other("docs/a.txt"), HashAlgorithm::kXxh32);
    EXPECT_EQ(other("docs/b.txt"), std::nullopt);  // its last line is XXH3-128
    EXPECT_EQ(other("docs/Caf\xc3\xa9.txt"), HashAlgorithm::kXxh3_64);
    EXPECT_EQ(other("docs/c.txt"), std::nullopt);
    EXPECT_EQ(other("docs/absent.txt"), std::nullopt);
    EXPECT_EQ(other("docs/a.txt/x"), std::nullopt);
    auto lines = walk(*theirs);
    ASSERT_EQ(lines.size(), 5u);
    EXPECT_EQ(lines[1], "docs/a.txt|1|docs/a.txt|946b5bf9");
    EXPECT_EQ(lines[2], "docs/b.txt|2|docs/b.txt|0123456789abcdef");

    // Our backups' list is XXH3-128 only: another algorithm makes it unusable.
    auto ours = ChecksumIndex::build(dir / "theirs", "ours", kOurs, {}, in_memory);
    ASSERT_TRUE(ours);
    ASSERT_TRUE(ours->bad());
    EXPECT_NE(ours->bad()->message.find("ours line 1 is not an XXH3-128 line"), std::string::npos)
        << ours->bad()->message;
    auto only = ChecksumIndex::build(dir / "ours", "ours", kOurs, {}, in_memory);
    ASSERT_TRUE(only && !only->bad());
    EXPECT_EQ(only->size(), 1u);
  }
  auto missing = ChecksumIndex::build(dir / "nothing", "nothing", kOurs, {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

// merge() walks the lines and the entries together: every line with the first file of its key
// (or none), every file of a key no line names; folders take no part.
TEST(ChecksumIndex, MergeGivesEachLineTheFirstFileOfItsNameAndEachUnlistedFile) {
  test::ScratchDir dir;
  std::ofstream(dir / "list") << "00000000000000000000000000000001  docs/b.txt\n"
                                 "00000000000000000000000000000002  docs/Cafe\xcc\x81.txt\n"
                                 "00000000000000000000000000000003  docs/a.txt\n"
                                 "00000000000000000000000000000004  docs/gone.txt\n"
                                 "00000000000000000000000000000005  docs/b.txt\n";
  std::vector<EntryRecord> records;
  for (const char* path : {"docs/", "docs/b.txt", "docs/Caf\xc3\xa9.txt", "docs/extra.txt",
                           "docs/b.txt", "docs/a.txt", "docs/extra.txt"}) {
    EntryRecord r;
    r.path = path;
    r.type = r.path.back() == '/' ? EntryType::kDirectory : EntryType::kFile;
    records.push_back(r);
  }
  auto store = EntryStore::from_records(records);
  ASSERT_TRUE(store);
  for (std::uint64_t in_memory : {ChecksumIndex::kInMemoryBytes, std::uint64_t{0}}) {
    SCOPED_TRACE(in_memory);
    auto index = ChecksumIndex::build(dir / "list", "list", kOurs, {}, in_memory);
    ASSERT_TRUE(index && !index->bad());
    std::vector<std::string> seen;
    ASSERT_TRUE(index->merge(
        **store,
        [&](const ChecksumIndex::Line& line, const StoredEntry* first) -> Result<void> {
          seen.push_back(fmt::format("line {} -> {}", line.number,
                                     first ? std::to_string(first->index) : "none"));
          return {};
        },
        [&](const StoredEntry& s) { seen.push_back(fmt::format("unlisted {}", s.index)); }));
    std::vector<std::string> expected{"line 2 -> 2", "line 3 -> 5", "line 1 -> 1",   "line 5 -> 1",
                                      "unlisted 3",  "unlisted 6",  "line 4 -> none"};
    EXPECT_EQ(seen, expected);
  }
}

}  // namespace
}  // namespace restorekit::core
