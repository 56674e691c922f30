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
