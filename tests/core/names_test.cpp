#include <restorekit/core/names.hpp>

#include <gtest/gtest.h>
#include <utf8proc.h>

#include <cstdlib>
#include <random>
#include <thread>

namespace restorekit::core {
namespace {

const std::string kNfd = "docs/Zu\xcc\x88rich.jpg";  // u + U+0308, as macOS writes it
const std::string kNfc = "docs/Z\xc3\xbcrich.jpg";   // ü, as Windows and Linux tools write it

TEST(Names, NfdAndNfcSpellingsShareOneKey) {
  EXPECT_EQ(name_key(kNfd), kNfc);
  EXPECT_EQ(name_key(kNfc), kNfc);
  EXPECT_TRUE(same_name(kNfd, kNfc));
  EXPECT_FALSE(same_name(kNfc, "docs/Zurich.jpg"));
}

TEST(Names, HangulAndOtherDecompositionsCompose) {
  // Hangul syllable GA as conjoining jamo, and A + ring above (Ångström).
  EXPECT_EQ(name_key("\xe1\x84\x80\xe1\x85\xa1"), "\xea\xb0\x80");
  EXPECT_TRUE(same_name("A\xcc\x8angstr\xc3\xb6m", "\xc3\x85ngstr\xc3\xb6m"));
}

TEST(Names, AsciiAndInvalidUtf8CompareByBytes) {
  EXPECT_EQ(name_key("docs/a.txt"), "docs/a.txt");
  std::string latin1 =
      "docs/Gr\xfc\xdf"
      "e.txt";
  EXPECT_EQ(name_key(latin1), latin1);
  EXPECT_FALSE(same_name(latin1,
                         "docs/Gr\xc3\xbc\xc3\x9f"
                         "e.txt"));
}

// name_key normalises a path segment by segment (the ASCII ones are taken as they are): the
// result must be what normalising the whole path gives, whichever segments need it.
TEST(Names, PathsNormaliseAsAWholeWhateverTheirSegments) {
  const std::string nfd_folder = "Mu\xcc\x88ller";  // u + U+0308
  const std::string nfc_folder = "M\xc3\xbcller";
  EXPECT_EQ(name_key("docs/" + nfd_folder + "/2024/" + nfd_folder + ".pdf"),
            "docs/" + nfc_folder + "/2024/" + nfc_folder + ".pdf");
  EXPECT_EQ(name_key(nfd_folder + "/a"), nfc_folder + "/a");  // first segment
  EXPECT_EQ(name_key("a/" + nfd_folder), "a/" + nfc_folder);  // last segment
  EXPECT_EQ(name_key("a//" + nfd_folder + "/"), "a//" + nfc_folder + "/");
  // A segment that starts with a combining mark: nothing composes across '/'.
  EXPECT_EQ(name_key("docs/e/\xcc\x81x"), "docs/e/\xcc\x81x");
  // Marks out of canonical order inside one segment are still reordered (dot below first).
  EXPECT_EQ(name_key("docs/q\xcc\x87\xcc\xa3"), "docs/q\xcc\xa3\xcc\x87");
  // Invalid UTF-8 in any segment: the whole name compares by its bytes, NFD segments too.
  std::string mixed = "docs/" + nfd_folder + "/Gr\xfc\xdf" + "e.txt";
  EXPECT_EQ(name_key(mixed), mixed);
}

// utf8proc's NFC of the whole string; the string itself where it is not valid UTF-8.
std::string whole_nfc(const std::string& s) {
  utf8proc_uint8_t* out = nullptr;
  auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                        static_cast<utf8proc_ssize_t>(s.size()), &out,
                        static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) return s;
  std::string r(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
  std::free(out);
  return r;
}

// Folders recur entry after entry, and name_key keeps the last segments it normalised: names
// under more folders than it keeps, folders of one length that differ in a byte, an invalid one
// among them, on two threads at once, each get their own key every time.
TEST(Names, RecurringFoldersEachKeepTheirOwnKey) {
  std::vector<std::string> folders;
  for (const char* base : {"Mu\xcc\x88ller", "Mo\xcc\x88ller", "Ma\xcc\x88ller", "A\xcc\x8a",
                           "Gr\xfc\xdf", "\xe1\x84\x80\xe1\x85\xa1"}) {
    folders.emplace_back(base);
    folders.emplace_back(std::string(base) + "-2");
  }
  auto names = [&](std::size_t shift) {
    for (int round = 0; round < 3; ++round) {
      for (std::size_t i = 0; i < folders.size(); ++i) {
        const auto& folder = folders[(i + shift) % folders.size()];
        for (const char* file : {"a.txt", "e\xcc\x81.txt"}) {
          std::string path = "docs/" + folder + "/" + folder + "/" + file;
          ASSERT_EQ(name_key(path), whole_nfc(path)) << "path bytes: " << path;
        }
      }
    }
  };
  std::thread other([&] { names(5); });
  names(0);
  other.join();
}

// The same against utf8proc's NFC of the whole string, on random paths built from pieces that
// compose, decompose, reorder or break UTF-8 next to '/' and ASCII.
TEST(Names, SegmentedKeyMatchesWholeStringNfc) {
  // clang-format off
  const std::vector<std::string> pieces = {
      "/", "/", "a", "docs", ".", "u", "\xcc\x88", "\xcc\x81", "\xcc\xa3", "\xc3\xbc",
      "\xe1\x84\x80", "\xe1\x85\xa1", "\xe1\x86\xa8", "A", "\xef\xac\x81", "\xe2\x84\xab",
      "\xfc", "\xe2\x80\xae", "\xf0\x9f\x98\x80", "\xcd\x85"};
  // clang-format on
  std::mt19937 rng(20261203);
  std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
  std::uniform_int_distribution<int> length(1, 12);
  int non_ascii = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string path;
    for (int n = length(rng); n > 0; --n) path += pieces[pick(rng)];
    non_ascii += whole_nfc(path) != path;
    ASSERT_EQ(name_key(path), whole_nfc(path)) << "path bytes: " << path;
  }
  EXPECT_GT(non_ascii, 1000);  // the cases that normalise were reached
}

}  // namespace
}  // namespace restorekit::core

namespace restorekit::core {
namespace {

TEST(NamePattern, GlobsAsCatalogFindDoesUnderTheNameRule) {
  struct Case {
    const char* glob;
    const char* path;
    bool matches;
  };
  const std::string nfd = "docs/Mu\xcc\x88ller.pdf";
  std::vector<Case> cases = {
      {"*.pdf", "docs/a/b.pdf", true},  // no '/': the file name in any folder
      {"b.pdf", "docs/a/b.pdf", true},
      {"a/b.pdf", "docs/a/b.pdf", false},  // with '/': the whole path
      {"docs/*", "docs/a/b.pdf", true},    // '*' crosses folders, as SQLite GLOB does
      {"docs/?/b.pdf", "docs/a/b.pdf", true},
      {"docs/[ab]/*", "docs/c/b.pdf", false},
      {"*.PDF", "docs/a/b.pdf", false},       // case sensitive
      {"M\xc3\xbcller*", nfd.c_str(), true},  // NFC pattern, NFD name
      {"docs/Mu\xcc\x88ller.pdf", "docs/M\xc3\xbcller.pdf", true},
      {"*", "x", true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(NamePattern(c.glob).matches(c.path), c.matches) << c.glob << " vs " << c.path;
  }
}

}  // namespace
}  // namespace restorekit::core
