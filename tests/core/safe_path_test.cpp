#include <restorekit/core/safe_path.hpp>

#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace restorekit::core {
namespace {

TEST(NormalizeEntryPath, KeepsOrdinaryRelativePaths) {
  EXPECT_EQ(*normalize_entry_path("docs/a/b.txt"), "docs/a/b.txt");
  EXPECT_EQ(*normalize_entry_path("docs/Müller 報告.pdf"), "docs/Müller 報告.pdf");
}

TEST(NormalizeEntryPath, DropsDotComponentsAndRepeatedSlashes) {
  EXPECT_EQ(*normalize_entry_path("./docs//a/./b.txt"), "docs/a/b.txt");
  EXPECT_EQ(*normalize_entry_path("docs/"), "docs");
}

TEST(NormalizeEntryPath, TurnsBackslashesIntoSlashes) {
  EXPECT_EQ(*normalize_entry_path("docs\\a\\b.txt"), "docs/a/b.txt");
}

TEST(NormalizeEntryPath, RefusesEveryEscape) {
  for (const char* raw :
       {"../etc/passwd", "docs/../../x", "a/..", "..", "..\\x", "/etc/passwd", "\\server\\share",
        "C:/Windows/x", "c:x", "docs/evil:stream", "", ".", "./", "//"}) {
    auto r = normalize_entry_path(raw);
    ASSERT_FALSE(r) << raw;
    EXPECT_EQ(r.error().code, ErrorCode::kUnsafePath) << raw;
  }
}

TEST(NormalizeEntryPath, RefusesControlCharactersAndInvalidUtf8) {
  EXPECT_FALSE(normalize_entry_path(std::string("a\0b", 3)));
  EXPECT_FALSE(normalize_entry_path("a\nb"));
  EXPECT_FALSE(normalize_entry_path("a\x1b[31mred"));
  EXPECT_FALSE(normalize_entry_path("a\x7f"));
  EXPECT_FALSE(normalize_entry_path("bad\xff\xfe"));
  EXPECT_FALSE(normalize_entry_path("overlong\xc0\xaf"));
  EXPECT_FALSE(normalize_entry_path("surrogate\xed\xa0\x80"));
}

// The library keeps names raw; each renderer escapes once, at the edge.
// The rule stated again, differently (split, then judge each part), as the oracle for every
// name made of up to four pieces below: names already canonical take a shortcut in
// normalize_entry_path(), and both ways must agree everywhere.
std::optional<std::string> rule(std::string_view raw) {
  if (raw.empty() || raw.front() == '/' || raw.front() == '\\' || !is_valid_utf8(raw)) {
    return std::nullopt;
  }
  for (unsigned char c : raw) {
    if (c < 0x20 || c == 0x7f) return std::nullopt;
  }
  std::vector<std::string> parts{""};
  for (char c : raw) {
    if (c == '/' || c == '\\') {
      parts.emplace_back();
    } else {
      parts.back() += c;
    }
  }
  std::string out;
  for (const auto& part : parts) {
    if (part.empty() || part == ".") continue;
    if (part == ".." || part.find(':') != std::string::npos) return std::nullopt;
    out += (out.empty() ? "" : "/") + part;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

TEST(NormalizeEntryPath, AgreesWithTheRuleOnEveryNameOfFourPieces) {
  const std::vector<std::string> pieces{"a", "B",  ".",    "..", "/",        "\\",   ":",
                                        " ", "\t", "\x7f", "~",  "\xc3\xa9", "\xff", "C:"};
  std::vector<std::string> names{""};
  std::vector<std::string> shorter{""};
  for (int length = 1; length <= 4; ++length) {
    std::vector<std::string> longer;
    for (const auto& n : shorter) {
      for (const auto& p : pieces) longer.push_back(n + p);
    }
    names.insert(names.end(), longer.begin(), longer.end());
    shorter = std::move(longer);
  }
  ASSERT_GT(names.size(), 40000u);
  std::size_t kept = 0;
  for (const auto& raw : names) {
    auto got = normalize_entry_path(raw);
    auto want = rule(raw);
    ASSERT_EQ(got.has_value(), want.has_value()) << escape_name(raw);
    if (want) {
      ++kept;
      EXPECT_EQ(*got, *want) << escape_name(raw);
    } else {
      EXPECT_EQ(got.error().code, ErrorCode::kUnsafePath);
    }
  }
  EXPECT_GT(kept, 5000u);  // both kinds are well represented
}

TEST(NormalizeEntryPath, ErrorMessageNamesTheRawEntryAndEscapingItOnceShowsTheControl) {
  auto r = normalize_entry_path("../\x1b[2Jx\\y");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("\x1b[2Jx\\y"), std::string::npos) << r.error().message;
  auto shown = escape_name(r.error().message);
  EXPECT_NE(shown.find("\\x1b[2Jx\\\\y"), std::string::npos) << shown;
  EXPECT_EQ(shown.find('\x1b'), std::string::npos);
}

TEST(CheckLink, AcceptsTargetsInsideTheTree) {
  EXPECT_TRUE(check_link("docs/a/link", "../b/file", LinkKind::kSymbolic));
  EXPECT_TRUE(check_link("docs/link", "sub/file", LinkKind::kSymbolic));
  EXPECT_TRUE(check_link("docs/hard", "docs/file", LinkKind::kHard));
}

TEST(CheckLink, RefusesTargetsLeavingTheTree) {
  EXPECT_EQ(check_link("docs/link", "/etc/passwd", LinkKind::kSymbolic).error().code,
            ErrorCode::kUnsafeLink);
  EXPECT_FALSE(check_link("docs/link", "../../etc/passwd", LinkKind::kSymbolic));
  EXPECT_FALSE(check_link("link", "..", LinkKind::kSymbolic));
  EXPECT_FALSE(check_link("docs/hard", "../outside", LinkKind::kHard));
  EXPECT_FALSE(check_link("docs/link", "C:\\Windows", LinkKind::kSymbolic));
  EXPECT_FALSE(check_link("docs/link", "", LinkKind::kSymbolic));
}

// A name with a right-to-left override shows "exe.txt" for "txt.exe"; zero-width characters
// make two names look alike: both are shown as code points.
TEST(EscapeName, ShowsBidiAndZeroWidthCharactersAsCodePoints) {
  EXPECT_EQ(escape_name("invoice\u202etxt.exe"), "invoice\\u{202e}txt.exe");
  EXPECT_EQ(escape_name("a\u200bb"), "a\\u{200b}b");
  EXPECT_EQ(escape_name("x\u2066y\u2069"), "x\\u{2066}y\\u{2069}");
  EXPECT_EQ(escape_name("\ufeffname"), "\\u{feff}name");
  EXPECT_EQ(escape_name("c1\u0085"), "c1\\u{0085}");
  EXPECT_EQ(escape_name("Z\u00fcrich \u65e5\u672c"), "Z\u00fcrich \u65e5\u672c");
}

TEST(EscapeName, EscapesControlBytesAndKeepsUtf8) {
  EXPECT_EQ(escape_name("plain.txt"), "plain.txt");
  EXPECT_EQ(escape_name("Müller"), "Müller");
  EXPECT_EQ(escape_name("a\nb\tc\\d"), "a\\nb\\tc\\\\d");
  EXPECT_EQ(escape_name("\x1b[31m"), "\\x1b[31m");
  EXPECT_EQ(escape_name("bad\xff"), "bad\\xff");
}

TEST(IsValidUtf8, MatchesTheStandard) {
  EXPECT_TRUE(is_valid_utf8("ascii"));
  EXPECT_TRUE(is_valid_utf8("日本語 𝄞"));
  EXPECT_FALSE(is_valid_utf8("\xe6\x97"));          // truncated sequence
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
}

}  // namespace
}  // namespace restorekit::core
