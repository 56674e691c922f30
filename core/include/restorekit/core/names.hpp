// The one rule for comparing names (DESIGN.md, "Names"): names are stored, listed and restored
// byte-exact as found, and compared under Unicode NFC, so that a document written by macOS
// (decomposed, NFD: "u" + U+0308) and the same document named by Windows or Linux tools
// (composed, NFC: "ü") are one name. Every comparison of two names — references with entries,
// archive with live documents, checksum lists with entries, patterns with names — goes
// through name_key(). Backed by utf8proc. Thread safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#pragma GCC visibility push(default)  // the public API: exported by the shared libraries

namespace restorekit::core {

// The form under which names compare: NFC of valid UTF-8; bytes that are not valid UTF-8 are
// returned unchanged (they compare byte by byte).
std::string name_key(std::string_view name);

// Whether every byte is ASCII: such a name is its own name_key(), found without building it.
bool is_ascii(std::string_view name);

// name_key() where it differs from the name; nullopt where the name is its own key (ASCII and
// other NFC names: almost all), so that a listing on disk keeps a key only where it needs one.
std::optional<std::string> key_of_its_own(std::string_view name);

// True when two names are the same under name_key().
bool same_name(std::string_view a, std::string_view b);

// A glob over entry paths with the semantics of SQLite's GLOB (`*`, `?`, `[...]`, case
// sensitive), compared under name_key(); a pattern without '/' also matches the last component
// of a path ("*.pdf" matches "docs/a/b.pdf"), as `catalog find` does. Thread safe.
class NamePattern {
 public:
  explicit NamePattern(std::string_view glob);
  [[nodiscard]] bool matches(std::string_view path) const;
  [[nodiscard]] const std::string& text() const { return text_; }

 private:
  std::string text_;  // as given
  std::string key_;   // name_key(text_)
  bool anywhere_;
};

}  // namespace restorekit::core

#pragma GCC visibility pop
