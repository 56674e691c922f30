#include <restorekit/core/names.hpp>

#include <gtest/gtest.h>

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
